"""Runs a command and prints its output (stdout, then stderr) and then
`exit N`, so that a lit test can check an exit code other than 0 or 1."""
import subprocess
import sys

result = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
sys.stdout.write(result.stdout.decode(errors="replace"))
sys.stdout.write(result.stderr.decode(errors="replace"))
print(f"exit {result.returncode}")
