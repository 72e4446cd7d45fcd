"""Collect the items created yesterday in the intake dataset (runs nightly from a cron trigger)."""

import datetime

import dtlpy as dl


class ServiceRunner(dl.BaseServiceRunner):
    @staticmethod
    def run(dataset_name: str = "intake") -> list:
        """Items created during the previous UTC day, in upload order."""
        project = dl.projects.get(project_name="local")
        dataset = project.datasets.get(dataset_name=dataset_name)
        today = datetime.datetime.now(datetime.timezone.utc).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        yesterday = today - datetime.timedelta(days=1)
        filters = dl.Filters()
        filters.add(field="createdAt", values=yesterday.isoformat(), operator=dl.FiltersOperations.GREATER_THAN_OR_EQUAL)
        filters.add(field="createdAt", values=today.isoformat(), operator=dl.FiltersOperations.LESS_THAN)
        filters.sort_by(field="createdAt")
        return [item for page in dataset.items.list(filters=filters) for item in page]
