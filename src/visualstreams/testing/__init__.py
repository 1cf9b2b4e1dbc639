"""Test fixtures for users and for the suite. Nothing in the package imports them (an import contract in
``make lint``): they are for checking an analysis or a reader, in tests, scripts and tutorials, not part of one.

* :mod:`~visualstreams.testing.known_answer`: recordings made from a trained network's own units plus noise.
* :mod:`~visualstreams.testing.published`: recordings written in their sources' published layouts (Allen NWB 1.0
  and 2.0, a brainio cache, a Sensorium folder) with a planted answer.
"""

from .known_answer import analytic_ceiling, known_answer_recordings, stimulus_table
from .published import (
    Planted,
    plant_session,
    write_allen_neuropixels,
    write_allen_nwb1,
    write_allen_nwb2,
    write_brainio_cache,
    write_sensorium_folder,
)

__all__ = ["analytic_ceiling", "known_answer_recordings", "stimulus_table", "Planted", "plant_session",
           "write_allen_neuropixels", "write_allen_nwb1", "write_allen_nwb2", "write_brainio_cache",
           "write_sensorium_folder"]
