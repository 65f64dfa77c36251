"""`python -m orchestra` is the same as the `orchestra` console script."""

from orchestra.launch import main

if __name__ == "__main__":
    main()
