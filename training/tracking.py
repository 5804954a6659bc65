"""Training's side of tracking: the commit a run records. Where the store is and the fluent API's
target come from `artifact.tracking`; the alias lock is `artifact.champion_lock`."""

from __future__ import annotations

from pathlib import Path


def git_commit(start: Path) -> str | None:
    """The checked-out commit, read from .git without running git (None outside a checkout)."""
    for folder in (start.resolve(), *start.resolve().parents):
        git = folder / ".git"
        if git.is_file():  # a worktree: ".git" names the real git directory
            git = Path(git.read_text().split(":", 1)[1].strip())
        if not git.is_dir():
            continue
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        common = git / "commondir"  # worktrees keep their refs in the main git directory
        if common.is_file():
            git = (git / common.read_text().strip()).resolve()
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip()
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(f" {ref}"):
                    return line.split()[0]
        return None
    return None
