"""``python -m ftkit``: show what is loaded, then run the demonstrations."""
from __future__ import annotations

import argparse
import sys

from . import __version__, gil_enabled, library_path


def describe() -> None:
    impl = sys.implementation.name
    ft = "free-threaded build" if _free_threaded_build() else "GIL build"
    print(f"ftkit {__version__}")
    print(f"library      {library_path}")
    print(f"interpreter  {impl} {sys.version.split()[0]} ({ft}) at {sys.executable}")
    print(f"GIL          {'enabled' if gil_enabled() else 'disabled'}")


def _free_threaded_build() -> bool:
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ftkit", description=__doc__)
    ap.add_argument("--info", action="store_true", help="only print what is loaded")
    ap.add_argument("--threads", type=int, default=8, help="threads in the demos (default 8)")
    args = ap.parse_args(argv)
    describe()
    if args.info:
        return 0
    from . import demo

    return demo.run(threads=args.threads)


if __name__ == "__main__":
    sys.exit(main())
