// The sidebar toggles in the article header (sphinx-book-theme) do nothing by themselves:
// pydata-sphinx-theme and sphinx-book-theme bind only the FIRST .primary-toggle and
// .secondary-toggle of the page, the ones in the (hidden) top bar. Pass clicks on to those:
// on a phone they open the sidebar as a dialog, on a wide screen they hide or show it.
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary", "secondary"]) {
    const [first, ...rest] = document.querySelectorAll(`.${kind}-toggle`);
    for (const button of rest) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        first.click();
      });
    }
  }
});
