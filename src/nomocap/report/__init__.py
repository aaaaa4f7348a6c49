"""Reports: reward curves (PNG), render grids, and one self-contained HTML page (images inlined)."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nomocap.checkpoint import atomic_write_text  # noqa: E402
from nomocap.runlog import is_number  # noqa: E402

CURVE_KEYS = ("reward_mean", "val_reward", "within_prompt_std", "approx_kl")
JUDGE_KEYS = ("judge_target", "judge_source")  # logged by ``finetune --judge-prompts``


def training_curves(log: str | Path, out: str | Path, keys: tuple[str, ...] = CURVE_KEYS) -> Path:
    """A PNG with one panel per logged quantity of a fine-tuning ``log.jsonl`` (the judge's too where it was
    logged); a quantity measured on the base before any update (``<key>_base``) is drawn as a dashed line."""
    rows = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    keys = keys + tuple(k for k in JUDGE_KEYS if k not in keys and any(k in r for r in rows))
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(r["iteration"], r[key]) for r in rows if is_number(r.get(key))]
        if pts:
            ax.plot(*zip(*pts), marker=".")
        base = [r[f"{key}_base"] for r in rows[:1] if is_number(r.get(f"{key}_base"))]
        if base:
            ax.axhline(base[0], linestyle="--", color="grey", label="base")
            ax.legend(loc="best", fontsize="small")
        ax.set_title(key)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")  # the suffix tells matplotlib the format
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def _table_html(lines: list[str]) -> str:
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _markdown_to_html(md: str) -> str:
    """Paragraphs and pipe tables (what our result notes use), separated by blank lines."""
    blocks = [b.strip().splitlines() for b in md.strip().split("\n\n") if b.strip()]
    parts = []
    for lines in blocks:
        if len(lines) >= 2 and all(ln.lstrip().startswith("|") for ln in lines):
            parts.append(_table_html(lines))
        else:
            parts.append(f"<p>{html.escape(' '.join(lines))}</p>")
    return "\n".join(parts)


def _image(path: Path) -> str:
    mime = {"png": "image/png", "gif": "image/gif"}[path.suffix.lstrip(".").lower()]
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(path.name)}">'


def write_html(out: str | Path, title: str, sections: list[tuple[str, str | Path]]) -> Path:
    """Sections are (heading, text with pipe tables | image path); images are inlined: the page is standalone."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, Path):
            parts.append(_image(content))
        else:
            parts.append(_markdown_to_html(content))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:right}th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>" \
           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    out = Path(out)
    atomic_write_text(out, page)
    return out
