"""``python -m ionraman.workflow CONFIG.toml [--out DIR] [--quiet]``: the same as ``ionraman run``.

Exit codes: 0 (all stages done), 1 (some stages failed; the others completed), 2 (user error:
one line ``error: ...`` on stderr, nothing written), 128 + N when stopped by signal N (130
SIGINT, 143 SIGTERM, 129 SIGHUP; the cluster is shut down first, a rerun resumes).
"""

from __future__ import annotations

import argparse
import sys

from ionraman.errors import Interrupted, IonramanError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ionraman.workflow", description=__doc__)
    parser.add_argument("config")
    parser.add_argument("--out", "-o", default=None)
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)
    from ionraman.workflow import run

    try:
        result = run(args.config, args.out, quiet=args.quiet)
    except IonramanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(exc.message(), file=sys.stderr)
        return exc.exit_code
    print(result.summary_text())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
