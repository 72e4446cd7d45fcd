"""The onboarding pipeline (`pipelines/video-frames.yaml`) end to end, as a user drives it: `loopform
apply` puts the example on `loopform serve`, then the real dtlpy uploads a real video (made here with
OpenCV) into /incoming of raw-videos, the trigger starts a cycle, `cut_frames.py` really cuts it
into frames of the frames dataset, both labeling tasks get every frame, and the statuses people set
with `item.update_status` route the frames to review or into discarded-frames."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import DtlpySdk, cli, copy_examples, import_dtlpy, isolate, point_dtlpy, serve_for_cli

cv2 = pytest.importorskip("cv2")  # the `test` extra installs opencv-python-headless
np = pytest.importorskip("numpy")


def make_video(path: Path, *, frames: int, fps: float) -> Path:
    """A real (tiny) mp4: `frames` grey frames at `fps`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (32, 24))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(np.full((24, 32, 3), index * 40, np.uint8))
    writer.release()
    return path


@pytest.fixture
def sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DtlpySdk]:
    """A served control plane with the example applied to it by the CLI, and dtlpy logged in to it."""
    copy_examples(isolate(tmp_path, monkeypatch))
    with serve_for_cli(tmp_path / "served.db", monkeypatch) as server:
        sdk = point_dtlpy(import_dtlpy(tmp_path), server)
        for name in ("raw-videos", "frames", "discarded-frames"):
            sdk.project.datasets.create(dataset_name=name)
        applied = cli("apply", "--auto-approve", "pipelines/video-frames.yaml")
        assert applied.code == 0, applied.out + applied.err
        yield sdk


def settled(sdk: DtlpySdk) -> None:
    sdk.server.control_plane.engine.drain()


def started(pipeline: Any, cycle: Any) -> dict[str, list[tuple[str, str]]]:
    """Per node name: the status and input item of each of its executions in `cycle`."""
    names = {node.node_id: node.name for node in pipeline.nodes}
    return {names[node_id]: [(e["status"], e["input"].get("item")) for e in listed]
            for node_id, listed in cycle.executions.items()}


def test_a_video_is_cut_into_frames_labeled_by_both_teams_and_routed_by_their_statuses(
        sdk: DtlpySdk, tmp_path: Path) -> None:
    project = sdk.project
    videos = project.datasets.get(dataset_name="raw-videos")
    frames = project.datasets.get(dataset_name="frames")
    discarded = project.datasets.get(dataset_name="discarded-frames")
    pipeline = project.pipelines.get(pipeline_name="video-frames")
    assert pipeline.status == "Installed"
    # 6 frames at 4 fps; the pipeline's fps variable (2) keeps every second one: 0, 2, 4
    video = videos.items.upload(local_path=str(make_video(tmp_path / "walk.mp4", frames=6, fps=4.0)),
                                remote_path="/incoming")
    shutil.copy(tmp_path / "walk.mp4", tmp_path / "notes.txt")
    videos.items.upload(local_path=str(tmp_path / "notes.txt"), remote_path="/incoming")  # not video*
    settled(sdk)

    (cycle,) = pipeline.pipeline_executions.list().all()  # the text file started none
    runs = started(pipeline, cycle)
    assert runs["Raw videos"] == [("success", video.id)]
    assert runs["Cut frames"] == [("success", video.id)]
    cut_frames = sorted(frames.items.list().all(), key=lambda i: i.name)
    assert [(f.name, f.dir) for f in cut_frames] == [
        ("walk_000000.jpg", "/walk"), ("walk_000002.jpg", "/walk"), ("walk_000004.jpg", "/walk")]
    assert all(f.metadata["user"]["source_video"] == video.id for f in cut_frames)
    assert all(f.mimetype == "image/jpeg" and f.metadata["system"]["size"] > 0 for f in cut_frames)

    team_a = project.tasks.get(task_name="Label frames (team A)")
    team_b = project.tasks.get(task_name="Label frames (team B)")
    review = project.tasks.get(task_name="Review")
    for task in (team_a, team_b):
        assert sorted(i.id for i in task.get_items().all()) == sorted(f.id for f in cut_frames)
    first, second, third = cut_frames
    first.update_status(status="discard", task_id=team_a.id)  # team A throws it away ...
    first.update_status(status="completed", task_id=team_b.id)  # ... team B completes it
    for frame in (second, third):
        frame.update_status(status="completed", task_id=team_a.id)
        frame.update_status(status="completed", task_id=team_b.id)
    settled(sdk)
    assert sorted(i.id for i in review.get_items().all()) == sorted(f.id for f in cut_frames)
    assert [i.name for i in discarded.items.list().all()] == ["walk_000000.jpg"]

    # `second` reached review from both teams: it waits there twice in this cycle, the review
    # task holds it once, and one status sends both waiting executions on
    second.update_status(status="discard", task_id=review.id)
    for frame in (first, third):
        frame.update_status(status="approve", task_id=review.id)
    settled(sdk)
    cycle = pipeline.pipeline_executions.get(pipeline_execution_id=cycle.id)
    assert cycle.status == "success"
    runs = started(pipeline, cycle)
    for team in ("Label frames (team A)", "Label frames (team B)"):
        assert sorted(runs[team]) == sorted(("success", f.id) for f in cut_frames)
    assert sorted(runs["Review"]) == sorted([("success", f.id) for f in (first, second, second, third, third)])
    assert sorted(i.name for i in discarded.items.list().all()) == [
        "walk_000000.jpg", "walk_000002.jpg", "walk_000002.jpg"]
    assert sorted(i.name for i in frames.items.list().all()) == [f.name for f in cut_frames]  # clones, not moves
