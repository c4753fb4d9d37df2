"""Labels: runs and whole clusters put in taxonomy categories, per reviewer, with append-only history.

- :mod:`triage.labels.store` writes history rows: :func:`add_label`, :func:`label_cluster`,
  :func:`adjudicate`, and reads it back: :func:`history`; :mod:`triage.labels.undo` has :func:`undo`
  and :func:`redo`.
- :mod:`triage.labels.effective` resolves the label each run counts as: :func:`effective_labels`
  (whole workspace, one pass), :func:`labels_by_reviewer` (every reviewer's own view, one pass),
  :func:`label_of` (one run, cheap), :func:`conflicts`. The rule is
  documented there and in docs/labels.md.
- :mod:`triage.labels.clusters`: a cluster's decisions (:func:`cluster_decision`, :func:`cluster_labels`)
  and the cluster's label derived from its members (:func:`cluster_label`).
- :mod:`triage.labels.io` shares labels between workspaces: :func:`export_labels`, :func:`import_labels`.
"""

from triage.labels.clusters import cluster_decision, cluster_label, cluster_labels
from triage.labels.effective import (
    Conflict,
    EffectiveLabel,
    ReviewerLabel,
    conflicts,
    effective_labels,
    label_of,
    labels_by_reviewer,
    reviewer_labels,
)
from triage.labels.io import ImportReport, LabelsFileError, export_labels, import_labels
from triage.labels.store import (
    LabelError,
    NothingToUndo,
    RationaleRequired,
    UnknownCluster,
    UnknownRun,
    add_label,
    adjudicate,
    history,
    label_cluster,
)
from triage.labels.undo import redo, undo
from triage.models import Label
from triage.taxonomy import UnknownCategory

__all__ = [
    "Conflict",
    "EffectiveLabel",
    "ImportReport",
    "Label",
    "LabelError",
    "LabelsFileError",
    "NothingToUndo",
    "RationaleRequired",
    "ReviewerLabel",
    "UnknownCategory",
    "UnknownCluster",
    "UnknownRun",
    "add_label",
    "adjudicate",
    "cluster_decision",
    "cluster_label",
    "cluster_labels",
    "conflicts",
    "effective_labels",
    "export_labels",
    "history",
    "import_labels",
    "label_cluster",
    "label_of",
    "labels_by_reviewer",
    "redo",
    "reviewer_labels",
    "undo",
]
