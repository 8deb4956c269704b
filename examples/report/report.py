"""Summarise every CSV file in a directory into one report file."""
import csv
import os
import sys
import tempfile


def main(src, dst):
    totals = {}
    for name in sorted(os.listdir(src)):
        if not name.endswith(".csv"):
            continue
        with open(os.path.join(src, name), newline="") as f:
            for row in csv.DictReader(f):
                totals[row["item"]] = totals.get(row["item"], 0) + int(row["qty"])
    # Write through a scratch file and rename, as careful programs do: the
    # learned profile must allow creating and renaming in the output folder.
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dst), prefix=".report.")
    with os.fdopen(fd, "w") as f:
        for item, qty in sorted(totals.items()):
            f.write(f"{item} {qty}\n")
    os.replace(tmp, dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
