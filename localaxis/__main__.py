"""python -m localaxis --host 127.0.0.1 --port 8200 --data-dir var/axis --agencies deploy/local-axis/agencies.json"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from localaxis.agencies import load_agencies
from localaxis.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="localaxis", description="Local interconnection axis with simulated agencies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--data-dir", type=Path, default=Path("var/axis"))
    parser.add_argument("--agencies", type=Path, default=Path("deploy/local-axis/agencies.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(args.data_dir.resolve(), load_agencies(args.agencies), f"http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
