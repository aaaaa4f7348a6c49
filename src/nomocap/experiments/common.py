"""The stages every experiment is made of: corpus, pretraining, reward model, evaluator, fine-tuning, pooling.

Each stage is reused when its folder finished with the same settings (``stages.run_stage``); shipped
checkpoints (``assets/checkpoints``) stand in for the stages that made them, unless ``use_shipped`` is off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from nomocap.data.humanml import CorpusError, infer_skeleton
from nomocap.data.merge import merge_corpora
from nomocap.data.prompts import Prompt
from nomocap.data.synth.corpus import synthesize
from nomocap.eval.protocol import ProtocolConfig
from nomocap.experiments.stages import run_stage
from nomocap.models.lora import check_adapter_scale
from nomocap.models.registry import ARCHS
from nomocap.motion.skeleton import T2M, Skeleton
from nomocap.pipeline import MotionPipeline
from nomocap.pretrain import PretrainConfig, pretrain
from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model
from nomocap.rewards import WeightedSum
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl import method_config, trainer_class
from nomocap.rl.ddpo import DDPOConfig
from nomocap.rl.draft import DRaFTConfig
from nomocap.rl.raft import RAFTConfig

FinetuneConfig = DDPOConfig | RAFTConfig | DRaFTConfig

SHIPPED = Path(__file__).resolve().parents[3] / "assets" / "checkpoints"
EMBEDDED_DOMAINS = ("h", "k")  # any other --source/--target is a corpus folder on disk
CORPUS_ENTRIES = ("new_joint_vecs", "texts", "train.txt", "val.txt", "test.txt", "Mean.npy", "Std.npy")
CORPUS_SIZES = {"tiny": {"h": 150, "k": 100}, "small": {"h": None, "k": None}, "paper": {"h": None, "k": None}}


@dataclass
class ExperimentConfig:
    """What every experiment shares; each experiment's config adds its own fields."""

    preset: str = "small"
    arch: str = "mdm"
    repr: str = "guo"
    seeds: list[int] = field(default_factory=lambda: [0])
    data_seed: int = 0
    use_shipped: bool = True
    contrastive: bool = False  # True: cos(prompt) minus the mean cos with the batch's other prompts
    twin: bool = False  # True: minus the cos with the prompt's swapped twin ("left" <-> "right"...)
    method: str = "ddpo"  # or the comparisons: "raft" (rl/raft.py), "draft" (reward gradient, rl/draft.py)
    finetune: dict = field(default_factory=dict)  # overrides of the preset's [finetune] ([raft], [draft]) table
    device: str = "cpu"  # where models train and sample; not a stage setting (a finished stage stays valid)
    adapter_scale: float = 1.0  # the fine-tuned rows' adapters scaled (lora.scale_adapter); evaluation only
    guidance: float | None = None  # classifier-free guidance of fine-tuning and evaluation alike; None: the preset's
    base_seeds: list[int] = field(default_factory=lambda: [0])  # pretraining seeds: each base fine-tuned per seed

    def __post_init__(self) -> None:  # before any corpus is made
        if self.arch not in ARCHS:
            raise ValueError(f"unknown --arch {self.arch!r}: choose {' or '.join(ARCHS)}")
        check_adapter_scale(self.adapter_scale)
        if "guidance" in self.finetune:
            raise ValueError("--set guidance=...: give --guidance instead; it sets the fine-tuning's and the "
                             "evaluation's guidance together, so that every row is sampled at one scale")
        self.protocol()  # a guidance scale that is no scale fails here
        if not self.base_seeds or len(set(self.base_seeds)) != len(self.base_seeds) or min(self.base_seeds) < 0:
            raise ValueError(f"--base-seeds {self.base_seeds}: give distinct non-negative pretraining seeds, "
                             "e.g. 0,1,2")

    def finetune_config(self, seed: int) -> FinetuneConfig:
        guidance = {} if self.guidance is None else {"guidance": self.guidance}
        return method_config(self.method, self.preset, self.arch, **{**self.finetune, **guidance, "seed": seed})

    def protocol(self) -> ProtocolConfig:
        """The preset's evaluation protocol for the experiment's architecture, sampled at its guidance."""
        return ProtocolConfig.from_preset(self.preset, self.arch, guidance=self.guidance)

    @property
    def stage_prefix(self) -> str:
        """Fine-tuning stage folders: ``finetune_*`` (DDPO), ``raft_*`` and ``draft_*`` live side by side."""
        return "finetune" if self.method == "ddpo" else self.method

    def finetune_folder(self, base_seed: int, seed: int, label: str = "") -> str:
        """``draft_s1`` (of base seed 0: the name of every earlier experiment folder's stages) or ``draft_b2_s1``;
        ``label`` (leave-one-out's class) after the method: ``draft_posture_balance_b2_s1``."""
        parts = (self.stage_prefix, label, f"b{base_seed}" if base_seed else "", f"s{seed}")
        return "_".join(part for part in parts if part)

    @property
    def method_label(self) -> str:
        """How tables name the fine-tuned rows' method."""
        label = {"ddpo": "(ours)", "raft": "by RAFT (comparison)", "draft": "by DRaFT (reward gradient)"}[self.method]
        return label + (f", adapters × {self.adapter_scale:g}" if self.adapter_scale != 1.0 else "")


def shipped(kind: str, domain: str, cfg: ExperimentConfig) -> Path | None:
    """The shipped checkpoint of ``kind`` (base, retrieval, evaluator) trained on the default ``domain`` corpus.

    None when nothing of that kind ships for the domain, or ``cfg`` asks for other corpora or no shipped models.
    """
    tags = {("base", "h"): f"base_{cfg.preset}_{cfg.arch}_{cfg.repr}",
            ("retrieval", "k"): f"reward_{cfg.preset}", ("retrieval", "h"): f"reward_{cfg.preset}_h",
            ("evaluator", "k"): f"evaluator_{cfg.preset}", ("evaluator", "h"): f"evaluator_{cfg.preset}_h"}
    tag = tags.get((kind, domain))
    if tag is None or not cfg.use_shipped or cfg.data_seed != 0:
        return None
    path = SHIPPED / tag
    return path if (path / "model.safetensors").exists() else None


def _anchors(out: Path) -> dict[str, Path]:
    """Stage configs name data and models relative to the experiment folder or the shipped checkpoints."""
    return {"experiment": out, "shipped": SHIPPED}


def corpus_stage(out: Path, domain: str, preset: str, seed: int, console: Console) -> Path:
    """The embedded corpus ``h`` or ``k`` (made once under ``out/data/``), or a corpus folder on disk, used as it is."""
    if domain not in EMBEDDED_DOMAINS:
        return corpus_folder(domain)
    size = CORPUS_SIZES[preset][domain]
    return run_stage(out / "data" / domain, {"domain": domain, "size": size, "seed": seed},
                     lambda f: synthesize(f, domain, size, seed, force=True), console, f"corpus {domain}",
                     _anchors(out))


def corpus_folder(path: str | Path) -> Path:
    """A HumanML3D-layout folder given in place of an embedded domain, checked before any stage runs."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise CorpusError(f"{path}: neither an embedded domain ({' or '.join(EMBEDDED_DOMAINS)}) nor a corpus "
                          f"folder; pass h, k or a folder in the HumanML3D layout ({', '.join(CORPUS_ENTRIES)})")
    missing = [name for name in CORPUS_ENTRIES if not (root / name).exists()]
    if missing:
        raise CorpusError(f"{root} lacks {', '.join(missing)}: a corpus needs the HumanML3D layout "
                          f"({', '.join(CORPUS_ENTRIES)}); `nomocap data check {root}` lists every problem")
    infer_skeleton(root)  # a Mean.npy of no known width fails here, naming the file
    return root.resolve()


def domain_skeleton(domain: str) -> Skeleton:
    """The skeleton of an embedded domain (both are t2m) or of a corpus folder (from its Mean.npy)."""
    return T2M if domain in EMBEDDED_DOMAINS else infer_skeleton(corpus_folder(domain))


def merged_corpus_stage(out: Path, roots: list[Path], console: Console) -> Path:
    """The corpora ``roots`` written as one (``data/merge.py``), under ``out/data/`` beside them."""
    folder = out / "data" / "+".join(Path(r).name for r in roots)
    return run_stage(folder, {"merge": [str(r) for r in roots]}, lambda f: merge_corpora(roots, f, force=True),
                     console, f"corpus {folder.name}", _anchors(out))


def pretrain_stage(folder: Path, data: Path, preset: str, arch: str, repr: str, console: Console,
                   exclude_category: str | None = None, device: str = "cpu", seed: int = 0) -> Path:
    cfg = PretrainConfig.from_preset(preset, arch=arch, repr=repr, exclude_category=exclude_category, seed=seed)
    settings = {"preset": preset, "arch": arch, "repr": repr, "data": str(data), "exclude": exclude_category}
    if seed:  # only then: bases pretrained before the seed was a setting stay valid
        settings["seed"] = seed
    return run_stage(folder, settings,
                     lambda f: pretrain(data, f, cfg, console=console, resume=True, device=device), console,
                     f"pretraining {folder.name}", _anchors(folder.parent))


def embedding_stage(folder: Path, data: Path, kind: str, preset: str, console: Console, device: str = "cpu") -> Path:
    """A reward model (``kind="retrieval"``) or an evaluator trained on ``data``."""
    cfg = EmbeddingTrainConfig.from_preset(kind, preset)
    return run_stage(folder, {"preset": preset, "data": str(data), "kind": kind},
                     lambda f: train_embedding_model(data, f, cfg, resume=True, console=console, device=device),
                     console,
                     f"{kind} model {folder.name}", _anchors(folder.parent))


def finetune_stage(folder: Path, base: Path, reward: Path, cfg: FinetuneConfig, prompts: list[Prompt],
                   replay: list[Prompt], val: list[Prompt], contrastive: bool, console: Console,
                   device: str = "cpu", prompt_source: str | None = None, twin: bool = False) -> Path:
    """Post-training of ``base`` from ``prompts`` alone (``replay`` keeps the source, ``val`` picks the best);
    ``prompt_source`` names where prompts other than the target's training captions came from."""

    def finetune(f: Path) -> None:
        f.mkdir(parents=True, exist_ok=True)
        pipe = MotionPipeline.from_run(base, device, f / ".text_cache")
        reward_fn = WeightedSum([(RetrievalReward.from_run(reward, contrastive, f / ".text_cache", twin=twin), 1.0)])
        trainer_class(cfg)(pipe, reward_fn, prompts, cfg, f, base, replay, val, console).run(
            resume=(f / "train_state.safetensors").exists())

    # Opt-in switches (antithetic, gate_adapter) enter the settings only when on: a finished stage made
    # before a switch existed stays valid, and turning one on re-runs the stage.
    settings = {k: v for k, v in asdict(cfg).items() if v is not False}
    config = {cfg.method: settings, "base": str(base), "reward": str(reward), "contrastive": contrastive,
              "prompts": len(prompts), "replay": len(replay)}
    if prompt_source is not None:  # only then: stages fine-tuned on the target's own captions stay valid
        config["prompt_source"] = prompt_source
    if twin:
        config["twin"] = True
    return run_stage(folder, config, finetune, console, f"fine-tuning {folder.name}", _anchors(folder.parent))


def judge_paired_note(paired: dict, split: str) -> str:
    return (f"Judge, paired (every {split} test caption, {paired['captions']} captions, {paired['attributes']} "
            f"attributes, the same noise for every model): base {paired['base']:.3f}, fine-tuned "
            f"{paired['finetuned']:.3f} (mean of {paired['models']}), difference {paired['delta']:+.3f} ± "
            f"{paired['ci']:.3f}.{_per_base(paired)}{_moved_attributes(paired.get('per_attribute', {}))}")


def _per_base(paired: dict) -> str:
    """Where several bases were compared (``protocol.judge_difference_over_bases``): each base's difference and
    both intervals."""
    if "per_base" not in paired:
        return ""
    deltas = ", ".join(f"{p['delta']:+.3f} ± {p['ci']:.3f}" for p in paired["per_base"])
    return (f" Over {paired['bases']} pretrained bases, each against its own fine-tuned models ({deltas}): "
            f"± {paired['ci_bases']:.3f} between the bases, ± {paired['ci_captions']:.3f} over the captions; the "
            "wider is given.")


def _moved_attributes(per_attribute: dict) -> str:
    """The attributes whose paired difference lies beyond its interval, largest first."""
    if not per_attribute:
        return ""
    moved = sorted(((name, a) for name, a in per_attribute.items() if abs(a["delta"]) > a["ci"]),
                   key=lambda item: -abs(item[1]["delta"]))
    if not moved:
        return " No single attribute moved beyond its interval."
    return (f" Attributes moved beyond their interval ({len(moved)} of {len(per_attribute)}; about 1 in 20 crosses "
            "it by chance): " + "; ".join(
                f"{name} {a['base']:.2f} → {a['finetuned']:.2f} ({a['delta']:+.3f} ± {a['ci']:.3f}, {a['count']} "
                "captions)" for name, a in moved) + ".")


def pooled_rows(row: Callable[[MotionPipeline | None], dict], base_pipes: list[MotionPipeline],
                tuned: list[list[MotionPipeline]]) -> dict:
    """The table's rows on one test split (``row(None)``: the real motions): the bases pooled, every fine-tuned
    model pooled, and where there are several bases each with its own fine-tuned seeds (``per_base``)."""
    truth = row(None)
    bases = [row(p) for p in base_pipes]
    finetuned = [[row(p) for p in group] for group in tuned]
    rows = {"ground_truth": truth, "base": pool(bases), "finetuned": pool([r for group in finetuned for r in group])}
    if len(bases) > 1:
        rows["per_base"] = [{"base": b, "finetuned": pool(group)} for b, group in zip(bases, finetuned, strict=True)]
    return rows


def pool(rows: list[dict]) -> dict:
    """Across seeds: the mean of the seeds' means; interval from the seeds (one seed: its own interval)."""
    if len(rows) == 1:
        return rows[0]
    pooled = {}
    for metric in rows[0]:
        means = np.array([r[metric]["mean"] for r in rows], dtype=np.float64)
        ci = 1.96 * means.std(axis=0) / np.sqrt(len(rows))
        pooled[metric] = {"mean": means.mean(axis=0).tolist(), "ci": np.asarray(ci).tolist()}
    return pooled
