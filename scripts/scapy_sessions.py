#!/usr/bin/env python3
"""Expected output for `tracetail sessions --scapy`, made by Scapy itself.

For every capture in the corpus that Scapy reads, writes
tests/data/scapy_sessions/<capture>.json mapping each PacketList.sessions() key to its
packet count, exactly as Scapy prints it. Files Scapy cannot read (or only partly) are listed
in tests/data/scapy_sessions/_unreadable.json with the error, so the Rust test can skip them.

Usage: python3 scripts/scapy_sessions.py [CORPUS_DIR]   (needs `pip install scapy==2.8.0`)
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import logging

logging.getLogger("scapy").setLevel(logging.CRITICAL)

import scapy
from scapy.all import rdpcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "scapy_sessions")


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "corpus")
    os.makedirs(OUT, exist_ok=True)
    unreadable = {}
    names = sorted(n for n in os.listdir(corpus) if n.endswith((".pcap", ".pcapng", ".gz")))
    for name in names:
        try:
            packets = rdpcap(os.path.join(corpus, name))
        except Exception as exc:  # Scapy raises many kinds on damaged files
            unreadable[name] = f"{type(exc).__name__}: {exc}"
            continue
        counts = {key: len(plist) for key, plist in packets.sessions().items()}
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump({"scapy_version": scapy.VERSION, "packets": len(packets), "sessions": counts}, f, indent=1, sort_keys=True)
        print(f"{name}: {len(packets)} packets, {len(counts)} sessions", flush=True)
    with open(os.path.join(OUT, "_unreadable.json"), "w") as f:
        json.dump(unreadable, f, indent=1, sort_keys=True)
    print(f"unreadable by Scapy: {len(unreadable)}")


if __name__ == "__main__":
    main()
