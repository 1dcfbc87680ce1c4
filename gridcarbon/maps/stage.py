"""The maps stage: the map of a run's results, as documents for the run folder.

``gridcarbon run`` builds a :class:`~gridcarbon.contracts.MapInputs` from the earlier stages'
results (``gridcarbon.pipeline``), ``gridcarbon map --run-dir`` reads one back from a run
folder (:func:`gridcarbon.io.run_folder_reader.read_map_inputs`); both hand it here and write
the documents with :func:`gridcarbon.io.outputs.write_documents`.
"""

from __future__ import annotations

import logging
import time

from gridcarbon.config.maps import MapConfig
from gridcarbon.contracts import Document, MapInputs
from gridcarbon.maps.build import make_map, map_documents

__all__ = ["run_map_stage"]

log = logging.getLogger(__name__)


def run_map_stage(
    inputs: MapInputs, config: MapConfig, language: str = "en"
) -> dict[str, Document]:
    """The map of ``inputs`` as ``{config.file_name: Document("html", page)}``.

    Parameters
    ----------
    inputs : MapInputs
        What the map draws (see :func:`gridcarbon.maps.build.make_map`).
    config : MapConfig
        The ``maps`` section of the run's configuration.
    language : {"en", "zh"}
        ``output.language`` of the run: the map's labels and legends.
    """
    t0 = time.perf_counter()
    documents = map_documents(make_map(inputs, config, language), config)
    log.info("map made in %.1f s", time.perf_counter() - t0)
    return documents
