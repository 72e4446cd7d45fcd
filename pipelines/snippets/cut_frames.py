"""Cut a video item into frames and upload them next to it (runs as a Dataloop code node)."""

import os
import tempfile

import cv2
import dtlpy as dl


class ServiceRunner(dl.BaseServiceRunner):
    @staticmethod
    def run(item: dl.Item, fps: int = 2) -> list:
        """Extract `fps` frames per second of video; returns the uploaded frame items."""
        workdir = tempfile.mkdtemp()
        video_path = item.download(local_path=workdir)
        capture = cv2.VideoCapture(video_path)
        native_fps = capture.get(cv2.CAP_PROP_FPS) or 25
        step = max(1, round(native_fps / max(1, fps)))
        stem = os.path.splitext(item.name)[0]
        frames, index = [], 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                path = os.path.join(workdir, f"{stem}_{index:06d}.jpg")
                cv2.imwrite(path, frame)
                frames.append(path)
            index += 1
        capture.release()
        uploaded = item.dataset.items.upload(
            local_path=frames,
            remote_path=f"/frames/{stem}",
            item_metadata={"user": {"source_video": item.id}},
        )
        return list(uploaded) if uploaded is not None else []
