from tailstat.cli import main

if __name__ == "__main__":  # guarded: process-pool children import this module under spawn
    raise SystemExit(main())
