"""Replacing a checkpoint folder, killed (SIGKILL) at every step of models.save: the old or
the new checkpoint must load afterwards (or, with the two-rename fallback killed between
its renames, load must say where the old one is and the next save must finish the job);
and a reader loading while a writer keeps replacing the folder always gets a whole
checkpoint."""

from __future__ import annotations

import os
import signal

import pytest

import latentatlas as la
from latentatlas.models import VAE, checkpoint

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not hasattr(os, "fork"), reason="the writer is a forked process")]


def _model(latent: int) -> VAE:
    return VAE((1, 8, 8), latent, hidden=(4,), seed=latent)


def _save_in_child(path, latent: int, kill_at: str | None, exchange: bool = True) -> int:
    """models.save in a forked child with the kill hook set; returns the child's wait status
    as a signal number (negative) or exit code."""
    model = _model(latent)
    pid = os.fork()
    if pid == 0:  # the child: save, then leave without running pytest's teardown
        code = 1
        try:
            if kill_at:
                os.environ[checkpoint.KILL_AT_ENV] = kill_at
            if not exchange:
                checkpoint._exchange = lambda a, b: False
            la.models.save(model, path)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def test_the_exchange_is_available_here(tmp_path):
    """The kill tests below cover the exchange path only where renameat2 works (Linux)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "f").write_text("a")
    if not checkpoint._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this system or file system")
    assert (b / "f").read_text() == "a" and not (a / "f").exists()


@pytest.mark.parametrize("exchange, steps", [
    (True, ["weights", "written", "swapped", None]),
    (False, ["weights", "written", "moved-aside", "moved-in", None]),
])
def test_kill_at_every_step_keeps_a_checkpoint(tmp_path, exchange, steps):
    for step in steps:
        folder = tmp_path / f"{exchange}-{step}"
        folder.mkdir()
        ck = folder / "ck"
        la.models.save(_model(2), ck)
        status = _save_in_child(ck, 3, step, exchange)
        assert status == (0 if step is None else -signal.SIGKILL), step
        if step == "moved-aside":  # between the fallback's two renames: no ck, load explains
            with pytest.raises(ValueError, match=r"replacing it was interrupted, and the previous checkpoint is in "
                                                 r"'.*\.ck\.old'"):
                la.models.load(ck)
            assert la.models.load(folder / ".ck.old").latent_dim == 2  # nothing lost
            la.models.save(_model(4), ck)  # the next save completes the replacement
            assert la.models.load(ck).latent_dim == 4
            assert sorted(os.listdir(folder)) == ["ck"]
            continue
        want = 2 if step in ("weights", "written") else 3
        assert la.models.load(ck).latent_dim == want, step
        la.models.save(_model(5), ck)  # leftovers of the killed save never block the next one
        assert la.models.load(ck).latent_dim == 5


def test_kill_while_saving_a_new_folder(tmp_path):
    for step in ("weights", "written", "moved-in"):
        ck = tmp_path / step
        assert _save_in_child(ck, 3, step) == -signal.SIGKILL
        if step == "moved-in":
            assert la.models.load(ck).latent_dim == 3
        else:
            with pytest.raises(ValueError, match=r"no checkpoint at"):
                la.models.load(ck)


def test_loads_during_replacements_always_read_one_whole_checkpoint(tmp_path):
    ck = tmp_path / "ck"
    la.models.save(_model(2), ck)
    models = {latent: _model(latent) for latent in (2, 3)}
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for i in range(60):
                la.models.save(models[2 + i % 2], ck)
            code = 0
        finally:
            os._exit(code)
    seen = []
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        model = la.models.load(ck)  # raises if it ever pairs one config with the other's weights
        seen.append(model.latent_dim)
        if done:
            break
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert set(seen) <= {2, 3} and len(seen) >= 1


def test_replacing_a_link_to_a_checkpoint_replaces_the_link(tmp_path):
    real = la.models.save(_model(2), tmp_path / "real")
    (tmp_path / "ck").symlink_to(real, target_is_directory=True)
    la.models.save(_model(3), tmp_path / "ck")
    assert not (tmp_path / "ck").is_symlink() and la.models.load(tmp_path / "ck").latent_dim == 3
    assert la.models.load(real).latent_dim == 2  # what the link pointed to is left alone
    assert sorted(os.listdir(tmp_path)) == ["ck", "real"]
