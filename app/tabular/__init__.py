"""Table imports (and exports): one way to read a clerk's table and bring it in, all rows or none.

The register (registry/import_check.py) and the scheme items (points/item_import.py) import through
this package, and so do the patrol roster and the household → grid list (through table.py). The package does everything that is not
about one feature's columns:

- files.py: which kind the input is (.xlsx, .csv, pasted lines; the content decides, not the name),
  opening a workbook within the hostile-file limits (docs/architecture.md, "Input and files": zip bombs, parts, rows,
  columns), decoding text (UTF-8, UTF-16, GB18030), splitting CSV and pasted lines into cells;
- cells.py: the problem list (`Problem(row, column, message)`, sorted as the sheet reads), cleaning
  a cell (`clean_cell`, `cell_value`, `number_text`, the `Bad` a reader raises), and `excel_safe`
  for exports (formula injection, T14);
- staging.py: the checked input kept under instance/imports between the dry run and the
  confirmation: generated name, owner-only, bound to purpose, village and user, half an hour at most,
  deleted after the confirmation or at Cancel and purged when abandoned (`purge_stale` on every import
  page, `flask imports purge` from cron); a feature stages only what its confirmation checks again;
- flow.py: the check → confirm flow the views call (`stage`, `confirm_staged`, `render_report`),
  built on app.submission.run_write, and `write_checked` for the command line;
- templates/imports/_report.html: the report page a feature's report extends (problem table, the
  "ready" summary, the confirmation form);
- table.py: a simple table's rows under a header named by a few spellings per column (`read_table`,
  `header_positions`, `cell_text`), for imports that need no more;
- export.py: tables out (.xlsx and UTF-8 .csv, text escaped, a Chinese file name): `Sheet` and
  `table_response`, imported from app.tabular.export (see its docstring), not re-exported here.

A new import (say the patrol roster) supplies only what is its own:

1. its columns and a row checker: `check(village, data, kind) -> result` that reads the rows
   (files.open_workbook / sheet_rows, csv_lines, pasted_lines), cleans cells (cells.clean_cell,
   raising cells.Bad), and returns a result with `.ok` and `.problems` (a list of cells.Problem;
   messages are gettext msgids marked with cells.N_). It writes nothing.
2. a writer: `apply(village, result) -> summary` that flushes (never commits) and raises its
   feature's DomainError to refuse.
3. two views, each a few lines::

       @bp.route("/roster/import", methods=["GET", "POST"])
       def roster_import():
           ...validate the upload form...
           result = check_roster(g.village, data, kind)          # ImportFileError → the form again
           confirm = stage(result, data, purpose=PURPOSE, kind=kind)
           return render_report("patrol/roster_report.html", result, confirm=confirm)

       @bp.post("/roster/import/confirm")
       def roster_import_confirm():
           done = confirm_staged(ConfirmForm(), purpose=PURPOSE,
                                 check=lambda data, kind: check_roster(g.village, data, kind),
                                 apply=lambda result: apply_roster(g.village, result),
                                 refusals=(PatrolError,), changed_meanwhile=MSG_CHANGED_MEANWHILE)
           if done.gone: ...the start page with "no longer available", 400
           if done.error: ...the start page with done.error, 400
           if not done: return render_report(..., done.result)
           flash(...); return redirect(...)

   and a report template that extends imports/_report.html and fills its blocks.

A command line import calls the same check, then `write_checked(check, apply, ...)` and prints
`problem_lines(result.problems)`.
"""
from __future__ import annotations

from .cells import (
    MSG_DUPLICATE_COLUMN,
    MSG_EXCEL_ERROR,
    MSG_MISSING_COLUMN,
    MSG_TOO_LONG,
    N_,
    Bad,
    Formula,
    Problem,
    cell_value,
    clean_cell,
    excel_safe,
    is_blank,
    number_text,
    sort_problems,
)
from .files import (
    HEADER_SEARCH_ROWS,
    KINDS,
    MAX_COLUMNS,
    MAX_SCANNED_ROWS,
    MAX_TEXT_BYTES,
    MAX_UPLOAD_BYTES,
    ImportFileError,
    csv_lines,
    decode_text,
    kind_for_filename,
    merged_ranges,
    open_workbook,
    pasted_lines,
    read_upload,
    sheet_rows,
    sniff,
)
from .flow import (
    ConfirmForm,
    Outcome,
    confirm_staged,
    problem_lines,
    purge_stale,
    render_report,
    stage,
    write_checked,
)
from .staging import PENDING_MAX_AGE, Staged, discard_upload, load_upload, purge_stale_uploads, store_upload

__all__ = [
    "MSG_DUPLICATE_COLUMN", "MSG_EXCEL_ERROR", "MSG_MISSING_COLUMN", "MSG_TOO_LONG", "N_", "Bad", "Formula",
    "Problem", "cell_value", "clean_cell", "excel_safe", "is_blank", "number_text", "sort_problems",
    "HEADER_SEARCH_ROWS", "KINDS", "MAX_COLUMNS", "MAX_SCANNED_ROWS", "MAX_TEXT_BYTES", "MAX_UPLOAD_BYTES",
    "ImportFileError", "csv_lines", "decode_text", "kind_for_filename", "merged_ranges", "open_workbook",
    "pasted_lines", "read_upload", "sheet_rows", "sniff",
    "ConfirmForm", "Outcome", "confirm_staged", "problem_lines", "purge_stale", "render_report", "stage",
    "write_checked",
    "PENDING_MAX_AGE", "Staged", "discard_upload", "load_upload", "purge_stale_uploads", "store_upload",
]
