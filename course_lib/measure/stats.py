"""Means, 95% confidence intervals, and the words a comparison may use (notebooks 06-11).

The course compares sharing plans trained with several seeds. Each plan's score gets a
mean with a confidence interval from Student's t distribution, and each plan's
*difference* to the unshared baseline gets its own interval: paired by seed when both
sides ran the same seeds (the seed fixes the initialisation and the batch order, so
pairing removes their shared noise), Welch's unequal-variance interval otherwise.

``verdict`` turns an interval into the only words the course uses: "better" or "worse"
when the interval excludes 0, else "no measurable difference at this size".

The t quantile is computed here (regularised incomplete beta function, Numerical Recipes
6.4, then bisection), so the package needs no scipy. References: Student (1908); Welch
(1947), *The generalization of "Student's" problem when several different population
variances are involved*.

Rates of 0/1 outcomes (how many seeds diverged) get Wilson's score interval instead,
which stays within [0, 1], and a difference of two rates Newcombe's interval built from
two Wilson intervals (``wilson_ci``, ``rate_diff_ci``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import pandas as pd

from course_lib.i18n import N_, _

# the words stay English data (a table's ``verdict`` column, compared in code); the sentences
# that show them are whole messages (``difference_sentences``), and ``i18n.tr`` translates a
# word or a table's verdict column where it is displayed
NO_DIFFERENCE = N_("no measurable difference at this size")
BETTER, WORSE = N_("better"), N_("worse")
BASELINE = N_("baseline")  # the baseline's own row of a compare_to_baseline table
TOO_FEW_SEEDS = N_("too few seeds")  # a row left with fewer than five runs (notebook 11)


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # fmt: skip
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b) for 0 <= x <= 1."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))  # fmt: skip
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t distribution with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df={df} is not allowed: degrees of freedom must be > 0")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(level: float, df: float) -> float:
    """The two-sided critical value: P(|T| <= q) = level (2.776 for level 0.95, df 4)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level} is not allowed: it must lie strictly between 0 and 1")
    target = 0.5 + level / 2.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < target:
        hi *= 2.0
    for _step in range(200):  # bisection: t_cdf is increasing
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < target else (lo, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Interval:
    """A mean (or a difference of means) with its confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int  # seeds (pairs, for a paired difference; the smaller side for Welch)
    level: float = 0.95
    method: str = "t"  # "t" (one sample), "paired", "welch"; rates: "wilson", "newcombe"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units, e.g. ``scaled(100)`` for percentage points."""
        return Interval(self.mean * factor, self.low * factor, self.high * factor, self.n,
                        self.level, self.method)  # fmt: skip


def _values(values: Sequence[float], what: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError(
            _("{what}: no values given; pass at least one number per seed").format(what=what)
        )
    if any(math.isnan(v) for v in out):
        raise ValueError(
            _("{what}: a value is NaN (a diverged run?); drop it or report it apart").format(
                what=what
            )
        )
    return out


def _mean_var(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else math.nan


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and t interval of independent values; one value gives an unbounded interval."""
    xs = _values(values, "mean_ci")
    m, var = _mean_var(xs)
    if len(xs) < 2:
        return Interval(m, -math.inf, math.inf, 1, level)
    half = t_quantile(level, len(xs) - 1) * math.sqrt(var / len(xs))
    return Interval(m, m - half, m + half, len(xs), level)


def diff_ci(
    values: Sequence[float],
    baseline: Sequence[float],
    seeds: Sequence[int] | None = None,
    baseline_seeds: Sequence[int] | None = None,
    level: float = 0.95,
) -> Interval:
    """Interval of mean(values) - mean(baseline).

    Paired by seed when both seed lists are given and hold the same seeds (each once);
    Welch's interval otherwise. Fewer than two values on a side: unbounded.
    """
    xs, bs = _values(values, "diff_ci values"), _values(baseline, "diff_ci baseline")
    if seeds is not None and baseline_seeds is not None:
        seeds, baseline_seeds = list(seeds), list(baseline_seeds)
        if len(seeds) != len(xs) or len(baseline_seeds) != len(bs):
            raise ValueError("diff_ci: seeds and values differ in length; pass one seed per value")
        if (
            len(set(seeds)) == len(seeds)
            and sorted(seeds) == sorted(set(baseline_seeds))
            and (len(baseline_seeds) == len(bs) == len(set(baseline_seeds)))
        ):
            by_seed = dict(zip(baseline_seeds, bs, strict=True))
            d = mean_ci([x - by_seed[s] for x, s in zip(xs, seeds, strict=True)], level)
            return Interval(d.mean, d.low, d.high, d.n, level, "paired")
    (mx, vx), (mb, vb) = _mean_var(xs), _mean_var(bs)
    n = min(len(xs), len(bs))
    if n < 2:
        return Interval(mx - mb, -math.inf, math.inf, n, level, "welch")
    se2 = vx / len(xs) + vb / len(bs)
    if se2 == 0.0:
        return Interval(mx - mb, mx - mb, mx - mb, n, level, "welch")
    df = se2**2 / ((vx / len(xs)) ** 2 / (len(xs) - 1) + (vb / len(bs)) ** 2 / (len(bs) - 1))
    half = t_quantile(level, df) * math.sqrt(se2)
    return Interval(mx - mb, mx - mb - half, mx - mb + half, n, level, "welch")


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level} is not allowed: it must lie strictly between 0 and 1")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _count(k: int, n: int, what: str) -> tuple[int, int]:
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise ValueError(f"{what}: k={k!r}, n={n!r} are not allowed: pass whole counts")
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"{what}: k={k}, n={n} are not allowed: need 0 <= k <= n and n >= 1")
    return int(k), int(n)


def wilson_ci(k: int, n: int, level: float = 0.95) -> Interval:
    """Rate k/n of 0/1 outcomes (seeds that diverged) with Wilson's score interval.

    Unlike mean +- t * se, it never leaves [0, 1], and 0 of 5 still gets a width
    (Wilson 1927, *Probable inference, the law of succession, and statistical inference*).
    """
    k, n = _count(k, n, "wilson_ci")
    z = _z(level)
    centre = (k + z * z / 2.0) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4.0)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return Interval(k / n, 0.0 if k == 0 else low, 1.0 if k == n else high, n, level, "wilson")


def rate_diff_ci(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> Interval:
    """Difference of two rates k1/n1 - k2/n2 with Newcombe's interval from the two
    Wilson intervals (his method 10); it stays within [-1, 1]. It ignores any pairing
    by seed, which can only widen it when the two sides' outcomes go together
    (Newcombe 1998, *Interval estimation for the difference between independent
    proportions*, Statistics in Medicine 17)."""
    a, b = wilson_ci(k1, n1, level), wilson_ci(k2, n2, level)
    d = a.mean - b.mean
    low = d - math.sqrt((a.mean - a.low) ** 2 + (b.high - b.mean) ** 2)
    high = d + math.sqrt((a.high - a.mean) ** 2 + (b.mean - b.low) ** 2)
    return Interval(d, max(-1.0, low), min(1.0, high), min(n1, n2), level, "newcombe")


def verdict(interval: Interval, larger_is_better: bool = True) -> str:
    """ "better" / "worse" only when the interval of a difference excludes 0."""
    if not interval.excludes_zero():
        return NO_DIFFERENCE
    return BETTER if (interval.low > 0.0) == larger_is_better else WORSE


def format_interval(interval: Interval, digits: int = 1, signed: bool = False) -> str:
    """``0.7 [0.2, 1.1]`` (or ``+0.7 [-0.2, +1.6]`` with ``signed``); ``n/a`` when unbounded."""
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    if math.isinf(interval.low) or math.isinf(interval.high):
        return _("{mean} [interval n/a: one seed]").format(mean=f.format(interval.mean))
    return f"{f.format(interval.mean)} [{f.format(interval.low)}, {f.format(interval.high)}]"


def compare_to_baseline(
    df: pd.DataFrame,
    value: str,
    baseline: str,
    by: str = "name",
    seed: str = "seed",
    larger_is_better: bool = True,
    scale: float = 1.0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per group of ``by`` (a plan): its mean and interval, and the difference to
    the group named ``baseline`` with its own interval and verdict.

    ``df`` holds one row per run (a seed column ``seed`` pairs the runs where present).
    ``scale`` multiplies every number, e.g. 100 for accuracy in percentage points.
    Columns: n, mean, low, high, diff, diff_low, diff_high, method, verdict.
    """
    for col in (by, value):
        if col not in df.columns:
            raise ValueError(
                _("column {col} is missing: the table has {columns}").format(
                    col=repr(col), columns=list(df.columns)
                )
            )
    if baseline not in set(df[by]):
        raise ValueError(
            _("baseline={baseline} is not a value of {by}: {values}").format(
                baseline=repr(baseline), by=repr(by), values=sorted(set(df[by]))
            )
        )
    if "dataset" in df.columns and df["dataset"].nunique() > 1:  # never pool two datasets
        found = sorted(str(d) for d in df["dataset"].dropna().unique())
        raise ValueError(
            _("df holds runs on {n} datasets {found}: compare one at a time, "
              "e.g. df[df['dataset'] == {first}]").format(n=len(found), found=found, first=repr(found[0]))
        )  # fmt: skip
    has_seed = seed in df.columns
    base = df[df[by] == baseline]
    rows = {}
    for name, group in df.groupby(by, sort=False):
        m = mean_ci(group[value], level).scaled(scale)
        d = diff_ci(group[value], base[value], group[seed] if has_seed else None,
                    base[seed] if has_seed else None, level).scaled(scale)  # fmt: skip
        rows[name] = {"n": m.n, "mean": m.mean, "low": m.low, "high": m.high,
                      "diff": d.mean, "diff_low": d.low, "diff_high": d.high,
                      "method": d.method if name != baseline else "",
                      "verdict": verdict(d, larger_is_better) if name != baseline else BASELINE}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(by)


def difference_sentences(
    table: pd.DataFrame, unit: str = N_("points"), digits: int = 1
) -> list[str]:
    """One Markdown sentence per plan of a ``compare_to_baseline`` table, e.g.
    "`all`: +0.4 points [-0.9, +1.7] vs `none`, no measurable difference at this size"."""
    base = table.index[table["verdict"] == BASELINE]
    if len(base) != 1:
        raise ValueError(_("table: pass the output of compare_to_baseline (one 'baseline' row)"))
    lines = []
    for name, row in table.drop(index=base).iterrows():
        d = Interval(row["diff"], row["diff_low"], row["diff_high"], int(row["n"]))
        values = {"name": name, "diff": format_interval(d, digits, signed=True),
                  "unit": _(unit), "base": base[0]}  # fmt: skip
        if row["verdict"] == NO_DIFFERENCE:
            text = _("`{name}`: {diff} {unit} vs `{base}`, no measurable difference at this size")
        elif row["verdict"] == BETTER:
            text = _("`{name}`: {diff} {unit} vs `{base}`, better")
        elif row["verdict"] == WORSE:
            text = _("`{name}`: {diff} {unit} vs `{base}`, worse")
        else:  # a verdict of another vocabulary, shown as it is
            text = _("`{name}`: {diff} {unit} vs `{base}`, {verdict}")
            values["verdict"] = _(str(row["verdict"]))
        lines.append(text.format(**values))
    return lines
