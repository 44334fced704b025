"""The register's import file format: the 户籍导入 sheet's columns, the labels clerks write, the messages.

Column headers, relation/sex/tag labels and the 说明 sheet are Chinese *data* (the file format clerks
exchange), not interface text; every problem message is a gettext msgid (docs/architecture.md,
"Input and files", for numeric ID cells and text). Reading the file is import_check.py; the template
and the export are export.py; what every table import shares is app.tabular.
"""
from __future__ import annotations

import re

from ..tabular import N_
from .models import HOUSEHOLD_TAGS, Relation

# --- the file format (Chinese data, not UI text) ---------------------------------------------------

SHEET_NAME = "户籍导入"
HELP_SHEET_NAME = "说明"

COL_NUMBER = "户号"
COL_GROUP = "村民小组"
COL_ADDRESS = "地址"
COL_TAGS = "户标签"
COL_NAME = "姓名"
COL_RELATION = "与户主关系"
COL_SEX = "性别"
COL_BIRTH = "出生日期"
COL_ID = "身份证号"
COL_PHONE = "联系电话"
COL_STATUS = "状态"
COL_HOUSEHOLD_STATUS = "户状态"

COLUMNS = (COL_NUMBER, COL_GROUP, COL_ADDRESS, COL_TAGS, COL_NAME, COL_RELATION, COL_SEX, COL_BIRTH,
           COL_ID, COL_PHONE)
REQUIRED_COLUMNS = (COL_NUMBER, COL_NAME, COL_RELATION)
EXPORT_COLUMNS = COLUMNS + (COL_STATUS, COL_HOUSEHOLD_STATUS)
#: columns the template formats as text, so Excel keeps leading zeros and all 18 ID characters
TEXT_COLUMNS = (COL_NUMBER, COL_ID, COL_PHONE)
TEMPLATE_ROWS = 2000

#: relation code → the label used in the file (the order of models.Relation)
RELATION_LABELS = {
    Relation.HEAD.value: "户主", Relation.SPOUSE.value: "配偶", Relation.CHILD.value: "子女",
    Relation.PARENT.value: "父母", Relation.GRANDCHILD.value: "孙子女", Relation.GRANDPARENT.value: "祖父母",
    Relation.SIBLING.value: "兄弟姐妹", Relation.CHILD_IN_LAW.value: "女婿儿媳", Relation.OTHER.value: "其他",
}
#: what clerks write in 户口簿-style registers (GB/T 4761 家庭关系 wording) → relation code
RELATION_ALIASES = {
    "本人": "head",
    "夫": "spouse", "妻": "spouse", "丈夫": "spouse", "妻子": "spouse",
    "子": "child", "女": "child", "儿子": "child", "女儿": "child", "长子": "child", "次子": "child",
    "三子": "child", "长女": "child", "次女": "child", "三女": "child", "独生子": "child", "独生女": "child",
    "养子": "child", "养女": "child", "继子": "child", "继女": "child",
    "父亲": "parent", "母亲": "parent", "父": "parent", "母": "parent", "公公": "parent", "婆婆": "parent",
    "岳父": "parent", "岳母": "parent", "继父": "parent", "继母": "parent",
    "孙子": "grandchild", "孙女": "grandchild", "外孙": "grandchild", "外孙子": "grandchild",
    "外孙女": "grandchild",
    "祖父": "grandparent", "祖母": "grandparent", "外祖父": "grandparent", "外祖母": "grandparent",
    "爷爷": "grandparent", "奶奶": "grandparent", "外公": "grandparent", "外婆": "grandparent",
    "兄": "sibling", "弟": "sibling", "姐": "sibling", "妹": "sibling", "哥哥": "sibling", "弟弟": "sibling",
    "姐姐": "sibling", "妹妹": "sibling",
    "女婿": "child_in_law", "儿媳": "child_in_law", "儿媳妇": "child_in_law",
    "其它": "other",
}
RELATION_BY_LABEL = {**{label: code for code, label in RELATION_LABELS.items()}, **RELATION_ALIASES,
                     **{r.value: r.value for r in Relation}}
SEX_LABELS = {"male": "男", "female": "女"}
SEX_BY_LABEL = {"男": "male", "女": "female", "男性": "male", "女性": "female", "male": "male", "female": "female"}
TAG_BY_LABEL = {**{label: code for code, label in HOUSEHOLD_TAGS.items()}, **{c: c for c in HOUSEHOLD_TAGS}}
TAG_SPLIT_RE = re.compile(r"[、,，;；\s]+")
PERSON_STATUS_LABELS = {"alive": "在户", "deceased": "已故", "moved": "已迁出"}
HOUSEHOLD_STATUS_LABELS = {"active": "正常", "moved_away": "已迁出", "split": "已分户", "merged": "已合户"}

NUMBER_RE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff_-]{0,31}")
PHONE_RE = re.compile(r"\+?[0-9][0-9 -]{4,19}")
MAX_LEN = {COL_NUMBER: 32, COL_GROUP: 64, COL_ADDRESS: 200, COL_TAGS: 200, COL_NAME: 64, COL_RELATION: 16,
           COL_SEX: 8, COL_BIRTH: 32, COL_ID: 24, COL_PHONE: 20}
#: people in one file at most (the hostile-file limits of every import are in app.tabular.files)
MAX_PEOPLE = 20_000

# --- messages (gettext msgids; the report shows them row by row) -----------------------------------

MSG_NO_SHEET = N_("The workbook has no worksheet.")
MSG_NO_HEADER = N_("No row with the column headers of the template (户号, 姓名, 与户主关系 …) was found "
                   "at the top of the sheet. Download the template and copy the data into it.")
MSG_TOO_MANY_ROWS = N_("The sheet has more than %(max)s rows; split the register into several files.")
MSG_NO_ROWS = N_("The file has no rows to import.")
MSG_MISSING_NUMBER = N_("The household number (户号) is empty. Fill it in on every row of the household "
                        "(do not merge cells); rows with the same 户号 form one household.")
MSG_BAD_NUMBER = N_("A household number is 1 to 32 letters, digits, - or _.")
MSG_NUMBER_AS_NUMBER = N_("The household number was typed as a number (%(value)s), which Excel may have "
                          "changed. Format the 户号 column as text and type the number again.")
MSG_NUMBER_EXISTS = N_("Household number %(number)s is already in use in this village.")
MSG_UNKNOWN_GROUP = N_("This village has no villager group named %(name)s. Existing groups: %(groups)s.")
MSG_NO_GROUPS = N_("This village has no villager groups yet; add them under Groups first, or leave "
                   "the column empty.")
MSG_GROUP_INACTIVE = N_("The villager group %(name)s is no longer in use.")
MSG_CONFLICT = N_("Household %(number)s: row %(row)s gives a different value (%(value)s). Give the same "
                  "value on every row of the household, or fill it in on one row only.")
MSG_UNKNOWN_TAG = N_("Unknown tag %(tag)s. Allowed tags: %(allowed)s, separated by 、 or a comma.")
MSG_MISSING_NAME = N_("The name is missing.")
MSG_MISSING_RELATION = N_("The relation to the head is missing (户主 for the head of the household).")
MSG_BAD_RELATION = N_("Unknown relation %(value)s. Allowed: %(allowed)s.")
MSG_NO_HEAD = N_("Household %(number)s has no head: exactly one person must have 户主 as relation.")
MSG_TWO_HEADS = N_("Household %(number)s has more than one head (rows %(rows)s): only one person can be 户主.")
MSG_BAD_SEX = N_("Unknown sex %(value)s. Write 男 or 女.")
MSG_BAD_DATE = N_("%(value)s is not a date. Write it like 2026-01-31, or use an Excel date cell.")
MSG_FUTURE_DATE = N_("The birth date %(value)s lies in the future.")
MSG_ID_AS_NUMBER = N_("The ID number was typed as a number (%(value)s), so Excel has already lost its last "
                      "digits. Format the 身份证号 column as text (设置单元格格式 → 文本) and type the numbers "
                      "again.")
MSG_ID_MASKED = N_("This ID number is masked with * (for example copied from an export). Enter the full "
                   "number or leave the cell empty.")
MSG_ID_DUPLICATE = N_("This ID number also appears in row %(row)s.")
MSG_ID_EXISTS = N_("This ID number is already registered in this village for %(name)s "
                   "(household %(number)s).")
MSG_BAD_PHONE = N_("Please enter a phone number of digits only, e.g. 13800138000.")
MSG_PHONE_AS_NUMBER = N_("The phone number was typed as a number (%(value)s), which loses leading zeros. "
                         "Format the 联系电话 column as text and type the number again.")
MSG_TOO_MANY_PEOPLE = N_("The file has more than %(max)s people; split the register into several files.")
MSG_CHANGED_MEANWHILE = N_("The register was changed by someone else while importing; nothing was imported. "
                           "Please check the file again.")
