"""`python -m orchestra` is the same as the `orchestra` console script."""

from orchestra.cli import main

if __name__ == "__main__":
    main()
