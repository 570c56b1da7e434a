"""The sandbox: student definitions load and run only in a child process (see process.py)."""
