"""Write the deploy/ files from readiness/serve/deploy_files.py (run after a metric
changes; tests/test_serve_deploy.py fails while the files here are stale)."""

from pathlib import Path

from readiness.serve.deploy_files import write

if __name__ == "__main__":
    for path in write(Path(__file__).resolve().parent):
        print(path)
