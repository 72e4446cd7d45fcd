"""Cut a video item into frames and upload them to the frames dataset of the video's project (runs
as a Dataloop code node). The frames go to a dataset of their own, not next to the video: the
labeling tasks downstream cover that dataset, and a task only takes items of its dataset."""

import os
import tempfile

import cv2
import dtlpy as dl


class ServiceRunner(dl.BaseServiceRunner):
    @staticmethod
    def run(item: dl.Item, fps: int = 2, frames_dataset: str = "frames") -> list:
        """Extract `fps` frames per second of video into the dataset named `frames_dataset`
        (folder /<video name>); returns the uploaded frame items."""
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
        if not frames:
            raise ValueError(f"no frames could be read from {item.name!r}")
        target = item.project.datasets.get(dataset_name=frames_dataset)
        uploaded = target.items.upload(
            local_path=frames,
            remote_path=f"/{stem}",
            item_metadata={"user": {"source_video": item.id}},
        )
        # dtlpy answers one uploaded file with the item itself, several with a generator
        if isinstance(uploaded, dl.Item):
            return [uploaded]
        return list(uploaded) if uploaded is not None else []
