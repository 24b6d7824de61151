"""The demo zone's data: departments, systems, the catalogue, projects, purposes, the cast.

The zone of 苏高新办〔2019〕2号 (seed plan) in English codes with Chinese names,
as text tables that read like the plan's annexes; which violations the demo
plants (``OM_GRANTED_DESPITE_RULES``, ``NO_OWNER``, ``FUNDED_DESPITE_REJECTION``
…) is stated here, next to the data it bends.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time

from ledger.domain import Actor, Role, Sensitivity, UpdateCycle
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST

# A past year: a back-filled fact is never dated after the ledger's clock (docs/facts.md §6).
DEMO_YEAR = 2025
DEFAULT_ACCESSES = 20_000
DEFAULT_SEED = 2019  # the plan's year
DEFAULT_VIOLATION_RATE = 0.02
OFF_HOURS_RATE = 0.005
REQUESTS = 2_000
BATCH_SIZE = 1_000
SETUP_DAY = date(DEMO_YEAR, 1, 6)  # departments, systems and the catalogue are registered
ACCESS_START = date(DEMO_YEAR, 1, 13)  # the catalogue goes live the week before
YEAR_END = date(DEMO_YEAR, 12, 31)
FEN_PER_WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 分
# The update cycles the demo's catalogue entries draw from (S11 judges each).
DEMO_CYCLES = (
    UpdateCycle.REAL_TIME,
    UpdateCycle.DAILY,
    UpdateCycle.WEEKLY,
    UpdateCycle.MONTHLY,
    UpdateCycle.QUARTERLY,
)

# ---------------------------------------------------------------------------------
# The zone (seed plan and domain.md). Codes are English ids; names are Chinese.
# ---------------------------------------------------------------------------------

# (code, name, abbreviation used in catalogue codes)
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("ndrc", "区发改局", "NDRC"),
    ("finance", "区财政局", "FIN"),
    ("cac", "区网信办", "CAC"),
    ("audit_bureau", "区审计局", "AUD"),
    ("performance_office", "区绩效办", "PERF"),
    ("approval_bureau", "区行政审批局", "APPR"),
    ("staffing_office", "区编办", "STAFF"),
    ("psb", "区公安局", "PSB"),
    ("hrss", "区人社局", "HRSS"),
    ("civil_affairs", "区民政局", "CA"),
    ("amr", "区市场监管局", "AMR"),
    ("health", "区卫健委", "HLTH"),
    ("education", "区教育局", "EDU"),
    ("housing", "区住建局", "HOUS"),
    ("planning", "区规划局", "PLAN"),
    ("sstc", "苏州科技城管委会", "SSTC"),
    ("hsg", "浒墅关经开区管委会", "HSG"),
)

DEPARTMENT_NAMES = {code: name for code, name, _ in DEPARTMENTS}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何"
GIVEN_NAMES = ("建国", "丽华", "志强", "敏", "海燕", "伟", "晓东", "静", "明", "雪梅", "军", "婷")


@dataclass(frozen=True)
class SystemSpec:
    """One 政务信息系统; ``connection``: connected | unconnected (required) | exempt."""

    department: str
    name: str
    function: str
    connection: str
    on_cloud: bool
    mlps: tuple[int, bool]  # (level, filed with public security)
    holds: str  # "P" personal, "I" important, "" neither
    fate: str  # "" | "zombie" | "merged:<name>" | "decommissioned"

    @classmethod
    def parse(cls, row: str) -> SystemSpec:
        dept, name, function, connection, cloud, mlps, holds, fate = _cells(row, 8)
        level, filed = mlps.split()
        return cls(
            dept,
            name,
            function,
            connection,
            cloud == "cloud",
            (int(level), filed == "filed"),
            holds.strip("-"),
            fate.strip("-"),
        )


def _cells(row: str, count: int) -> list[str]:
    """The cells of one text-table row ("a | b | c"); the tables read better as text."""
    cells = [cell.strip() for cell in row.split("|")]
    if len(cells) != count:
        raise ValueError(f"demo table row needs {count} cells: {row!r}")
    return cells


# department | name | function | connection | cloud | MLPS level and filing | holds | fate
SYSTEMS: tuple[SystemSpec, ...] = tuple(
    SystemSpec.parse(row)
    for row in """
ndrc | 数据共享交换平台 | 区级数据共享交换 | connected | cloud | 3 filed | PI | -
ndrc | 公共信用信息平台 | 信用信息归集与应用 | connected | cloud | 3 filed | P | -
ndrc | 政务信息资源目录系统 | 资源目录编制与管理 | connected | cloud | 2 filed | - | -
finance | 预算管理一体化系统 | 预算编制与执行 | connected | - | 3 filed | I | -
finance | 非税收入收缴系统（旧） | 非税收入收缴 | unconnected | - | 2 filed | - | zombie
cac | 网络安全态势感知平台 | 网络安全监测预警 | exempt | cloud | 3 filed | I | -
audit_bureau | 审计管理系统 | 审计项目管理 | connected | cloud | 2 filed | - | -
performance_office | 绩效考评管理系统 | 部门绩效考评 | unconnected | cloud | 2 filed | - | -
approval_bureau | 一体化政务服务平台 | 政务服务一网通办 | connected | cloud | 3 filed | P | -
approval_bureau | 电子证照库 | 电子证照归集与核验 | connected | cloud | 3 filed | P | -
psb | 人口信息管理系统 | 户籍与人口管理 | connected | - | 3 filed | PI | -
psb | 视频监控联网共享平台 | 公共视频资源共享 | exempt | - | 3 filed | PI | -
hrss | 社会保障业务经办系统 | 社保参保缴费经办 | connected | cloud | 3 filed | P | -
hrss | 就业创业服务系统 | 就业登记与补贴 | unconnected | cloud | 2 unfiled | P | -
civil_affairs | 社会救助管理系统 | 低保特困救助 | connected | cloud | 3 filed | P | -
civil_affairs | 婚姻登记管理系统 | 婚姻登记 | connected | - | 2 filed | P | -
civil_affairs | 养老补贴发放系统 | 处室自建 | exempt | - | 2 filed | P | merged:社会救助管理系统
amr | 市场主体登记系统 | 企业与个体登记 | connected | cloud | 3 filed | - | -
amr | 食品安全监管系统 | 食品经营监管 | unconnected | - | 2 filed | - | -
health | 全民健康信息平台 | 健康档案与医疗协同 | connected | cloud | 3 filed | P | -
health | 预防接种管理系统 | 疫苗接种登记 | connected | - | 3 filed | P | -
education | 学籍管理系统 | 中小学学籍 | connected | cloud | 3 filed | P | -
education | 义务教育招生入学报名系统 | 入学报名与审核 | unconnected | cloud | 2 unfiled | P | -
housing | 房屋交易管理系统 | 商品房网签备案 | connected | cloud | 2 filed | P | -
housing | 建筑工地扬尘监测系统 | 工地扬尘监测 | unconnected | - | 2 filed | - | zombie
planning | 空间地理信息平台 | 基础测绘与空间数据 | connected | cloud | 3 filed | I | -
planning | 不动产登记信息系统 | 不动产登记 | connected | - | 3 filed | P | -
sstc | 科技城企业服务平台 | 企业服务与政策兑现 | connected | cloud | 2 filed | - | -
hsg | 经开区安全生产监管系统（旧版） | 安全生产检查 | exempt | - | 2 filed | - | decommissioned
hsg | 经开区网格化社会治理系统 | 网格事件上报 | exempt | cloud | 2 filed | P | zombie
""".strip().splitlines()
)

# Finance grants O&M to these despite the rules: the F1/F2 findings the demo plants.
OM_GRANTED_DESPITE_RULES = frozenset(
    {"绩效考评管理系统", "就业创业服务系统", "建筑工地扬尘监测系统", "经开区网格化社会治理系统"}
)

# One sensitivity per item name, wherever it appears (unlisted: general).
_PERSONAL = (
    "姓名 性别 民族 出生日期 户籍地址 居住地址 联系电话 婚姻状况 学历 工作单位 参保状态 就业状态 "
    "死亡日期 所有人姓名 法定代表人姓名 经营者姓名 母亲姓名 监护人姓名 买受人姓名 承租人姓名 "
    "不动产权利人 申请人姓名 投诉人姓名 上报人姓名 医师姓名 房屋坐落 缴费基数 迁出地 迁入地"
)
_SENSITIVE = (
    "公民身份号码 银行账号 诊断结果 病历摘要 疫苗接种记录 残疾类别 救助金额 低保金额 犯罪记录 "
    "出入境记录 收入情况 新生儿姓名 母亲公民身份号码 学生姓名 学生身份证号 死亡原因"
)
ITEM_SENSITIVITY: dict[str, Sensitivity] = {
    **dict.fromkeys(_PERSONAL.split(), Sensitivity.PERSONAL),
    **dict.fromkeys(_SENSITIVE.split(), Sensitivity.SENSITIVE_PERSONAL),
    **dict.fromkeys(
        ["高精度坐标", "地下管线分布", "建设用地规划条件", "预算执行明细", "网络安全事件信息"],
        Sensitivity.IMPORTANT,
    ),
    **dict.fromkeys(["重点目标位置", "涉密测绘成果"], Sensitivity.CORE),
}


# The laws and regulations that not_shareable resources cite (51号: a basis is required).
LEGAL_BASIS = {
    "刑事诉讼法": "《中华人民共和国刑事诉讼法》",
    "反恐怖主义法": "《中华人民共和国反恐怖主义法》",
    "社会救助暂行办法": "《社会救助暂行办法》",
    "基本医疗卫生与健康促进法": "《中华人民共和国基本医疗卫生与健康促进法》",
    "精神卫生法": "《中华人民共和国精神卫生法》",
    "未成年人保护法": "《中华人民共和国未成年人保护法》",
    "测绘法": "《中华人民共和国测绘法》",
    "网络安全法": "《中华人民共和国网络安全法》",
    "关键信息基础设施安全保护条例": "《关键信息基础设施安全保护条例》",
    "危化品条例": "《危险化学品安全管理条例》",
}


@dataclass(frozen=True)
class ResourceSpec:
    """A catalogue entry: items as "a*,b,c" (``*`` a base item); sharing U / C / N."""

    department: str
    name: str
    sharing: str
    items: str
    legal_basis: str | None = None

    @classmethod
    def parse(cls, row: str) -> ResourceSpec:
        """A not_shareable row names its basis by a key of :data:`LEGAL_BASIS`."""
        if row.count("|") == 4:
            dept, name, sharing, items, basis = _cells(row, 5)
            return cls(dept, name, sharing, items, LEGAL_BASIS[basis])
        return cls(*_cells(row, 4))


# 100 resources: department | name | U/C/N | items | legal basis (not_shareable only).
# The five base resources (人口、法人、空间地理、电子证照、社会信用) lead their providers'
# lists; 电子证照 is registered conditional on purpose (an S9 finding).
RESOURCES: tuple[ResourceSpec, ...] = tuple(
    ResourceSpec.parse(row)
    for row in """
psb | 人口基础信息 | U | 公民身份号码*,姓名*,性别*,民族*,出生日期*,户籍地址
psb | 户籍人口详细信息 | C | 公民身份号码,姓名,户籍地址,婚姻状况,学历,联系电话
psb | 流动人口居住登记信息 | C | 公民身份号码,姓名,居住地址,工作单位,登记日期
psb | 居民死亡注销信息 | C | 公民身份号码,姓名,死亡日期,注销日期
psb | 出入境证件办理信息 | C | 公民身份号码,姓名,出入境记录,证件类型
psb | 机动车登记信息 | C | 号牌号码,车辆类型,所有人姓名,登记日期
psb | 驾驶证信息 | C | 公民身份号码,姓名,准驾车型,有效期
psb | 违法犯罪记录信息 | N | 公民身份号码,姓名,犯罪记录 | 刑事诉讼法
psb | 视频监控点位信息 | N | 点位编号,重点目标位置,安装地址 | 反恐怖主义法
psb | 户籍迁移信息 | C | 公民身份号码,姓名,迁出地,迁入地,迁移日期
hrss | 社会保险参保信息 | C | 公民身份号码,姓名,参保状态,参保险种,缴费基数
hrss | 就业登记信息 | C | 公民身份号码,姓名,就业状态,工作单位,登记日期
hrss | 失业登记信息 | C | 公民身份号码,姓名,失业登记日期,就业状态
hrss | 养老金发放信息 | C | 公民身份号码,姓名,银行账号,发放金额
hrss | 职业技能等级证书信息 | U | 证书编号,姓名,职业名称,等级
hrss | 劳动保障监察案件信息 | C | 案件编号,用人单位名称,统一社会信用代码,案由
hrss | 人才引进落户信息 | C | 公民身份号码,姓名,学历,引进日期
hrss | 企业用工备案信息 | U | 统一社会信用代码,用人单位名称,用工人数
hrss | 工伤认定信息 | C | 公民身份号码,姓名,诊断结果,认定结论
civil_affairs | 最低生活保障对象信息 | C | 公民身份号码,姓名,居住地址,低保金额,家庭人口数
civil_affairs | 特困人员供养信息 | C | 公民身份号码,姓名,救助金额,供养方式
civil_affairs | 婚姻登记信息 | C | 公民身份号码,姓名,婚姻状况,登记日期
civil_affairs | 残疾人两项补贴信息 | C | 公民身份号码,姓名,残疾类别,补贴金额
civil_affairs | 社会组织登记信息 | U | 统一社会信用代码,社会组织名称,业务范围,成立日期
civil_affairs | 殡葬服务信息 | C | 公民身份号码,姓名,死亡日期,火化日期
civil_affairs | 养老机构信息 | U | 机构名称,统一社会信用代码,床位数,地址
civil_affairs | 低收入家庭收入核对信息 | N | 公民身份号码,收入情况,银行账号 | 社会救助暂行办法
amr | 法人基础信息 | U | 统一社会信用代码*,机构名称*,法定代表人姓名*,住所*,成立日期*,注册资本
amr | 个体工商户登记信息 | U | 统一社会信用代码,经营者姓名,经营场所,登记日期
amr | 企业年度报告信息 | U | 统一社会信用代码,年报年度,从业人数,资产总额
amr | 行政处罚信息 | U | 处罚决定书文号,统一社会信用代码,违法行为类型,处罚日期
amr | 食品经营许可信息 | U | 许可证编号,统一社会信用代码,经营项目,有效期
amr | 特种设备登记信息 | C | 设备编号,使用单位,设备类别,检验日期
amr | 经营异常名录信息 | U | 统一社会信用代码,列入原因,列入日期
amr | 企业股权出质信息 | C | 统一社会信用代码,出质人,质权人,出质股权数额
amr | 投诉举报信息 | C | 投诉人姓名,联系电话,被投诉对象,投诉内容
health | 出生医学证明信息 | C | 出生医学证明编号,新生儿姓名,出生日期,母亲姓名,母亲公民身份号码
health | 预防接种信息 | C | 公民身份号码,姓名,疫苗接种记录,接种日期
health | 居民电子健康档案 | N | 公民身份号码,姓名,病历摘要,诊断结果 | 基本医疗卫生与健康促进法
health | 医疗机构执业登记信息 | U | 机构名称,统一社会信用代码,诊疗科目,执业地址
health | 医师执业注册信息 | U | 医师姓名,执业类别,执业机构
health | 死亡医学证明信息 | C | 公民身份号码,姓名,死亡日期,死亡原因
health | 严重精神障碍患者管理信息 | N | 公民身份号码,姓名,诊断结果,居住地址 | 精神卫生法
health | 计划生育奖励扶助信息 | C | 公民身份号码,姓名,扶助金额,银行账号
health | 卫生监督执法信息 | U | 统一社会信用代码,监督对象,处理结果,检查日期
education | 中小学学籍信息 | C | 学籍号,学生姓名,学生身份证号,就读学校,年级
education | 义务教育入学登记信息 | C | 学生姓名,学生身份证号,监护人姓名,户籍地址,报名学校
education | 学校基本信息 | U | 学校名称,统一社会信用代码,办学类型,地址
education | 教师资格信息 | U | 教师资格证号,姓名,任教学科
education | 学生资助信息 | C | 学生姓名,学生身份证号,资助金额,银行账号
education | 校外培训机构信息 | U | 机构名称,统一社会信用代码,培训类别,审批日期
education | 学生体质健康监测信息 | N | 学生姓名,学生身份证号,诊断结果 | 未成年人保护法
education | 学前教育机构信息 | U | 园所名称,统一社会信用代码,办园性质,在园幼儿数
housing | 商品房网签备案信息 | C | 合同编号,房屋坐落,买受人姓名,公民身份号码,成交价格
housing | 保障性住房配租信息 | C | 公民身份号码,姓名,房屋坐落,收入情况
housing | 建筑业企业资质信息 | U | 统一社会信用代码,企业名称,资质类别,有效期
housing | 施工许可信息 | U | 施工许可证号,项目名称,建设单位,发证日期
housing | 房屋租赁登记备案信息 | C | 房屋坐落,承租人姓名,公民身份号码,租赁期限
housing | 物业服务企业信息 | U | 统一社会信用代码,企业名称,服务项目
housing | 城镇燃气经营许可信息 | U | 许可证编号,企业名称,有效期
planning | 空间地理基础信息 | U | 图层名称*,行政区划代码*,地理坐标*,更新日期
planning | 不动产登记信息 | C | 不动产单元号,不动产权利人,公民身份号码,房屋坐落,抵押状态
planning | 建设用地规划许可信息 | U | 许可证号,项目名称,用地面积,发证日期
planning | 国土空间规划成果 | C | 规划编号,规划名称,建设用地规划条件,批复日期
planning | 高精度地形图数据 | C | 图幅号,高精度坐标,测绘日期
planning | 涉密基础测绘成果 | N | 图幅号,涉密测绘成果,重点目标位置 | 测绘法
planning | 地下管线普查信息 | C | 管线编号,地下管线分布,权属单位
planning | 土地出让信息 | U | 宗地编号,出让面积,出让价款,成交日期
approval_bureau | 电子证照基础信息 | C | 证照编号*,证照类型*,持证主体*,持证主体代码*,颁发日期
approval_bureau | 政务服务事项办件信息 | C | 办件编号,事项名称,申请人姓名,公民身份号码,办结日期
approval_bureau | 企业开办一件事信息 | U | 统一社会信用代码,企业名称,办结日期
approval_bureau | 投资项目审批信息 | U | 项目代码,项目名称,建设单位,审批结果
approval_bureau | 好差评信息 | U | 办件编号,评价等级,评价日期
approval_bureau | 行政许可信息 | U | 许可决定书文号,统一社会信用代码,许可内容,许可日期
approval_bureau | 帮办代办服务信息 | C | 申请人姓名,联系电话,服务事项
ndrc | 公共信用信息 | U | 统一社会信用代码*,主体名称*,信用评价等级*,评价日期
ndrc | 失信被执行人信息 | U | 统一社会信用代码,主体名称,失信行为,列入日期
ndrc | 自然人信用信息 | C | 公民身份号码,姓名,信用评价等级,失信行为
ndrc | 政府投资项目库信息 | U | 项目代码,项目名称,总投资,建设单位
ndrc | 价格监测信息 | U | 监测品种,价格,监测日期
ndrc | 信用承诺信息 | U | 统一社会信用代码,承诺事项,承诺日期
finance | 预算单位基本信息 | U | 单位名称,统一社会信用代码,单位类型
finance | 财政补贴资金发放信息 | C | 公民身份号码,姓名,补贴项目,发放金额,银行账号
finance | 政府采购项目信息 | U | 采购项目编号,项目名称,中标单位,中标金额
finance | 预算执行信息 | C | 单位名称,预算科目,预算执行明细
finance | 国有资产配置信息 | C | 资产编号,单位名称,资产类别,账面价值
cac | 网络安全事件信息 | N | 事件编号,网络安全事件信息,处置状态 | 网络安全法
cac | 关键信息基础设施清单 | N | 设施名称,运营单位,重点目标位置 | 关键信息基础设施安全保护条例
audit_bureau | 审计结果公告信息 | U | 公告编号,被审计单位,审计发现问题,公告日期
audit_bureau | 审计整改信息 | C | 被审计单位,整改事项,整改状态
performance_office | 部门绩效考评结果 | U | 部门名称,考评年度,考评得分
performance_office | 共享工作评价结果 | U | 部门名称,评价年度,评价得分
staffing_office | 机构编制信息 | U | 机构名称,统一社会信用代码,编制数,职能
staffing_office | 事业单位登记信息 | U | 统一社会信用代码,单位名称,法定代表人姓名,宗旨和业务范围
sstc | 科技企业培育库信息 | C | 统一社会信用代码,企业名称,研发投入,知识产权数
sstc | 人才项目申报信息 | C | 公民身份号码,姓名,学历,申报项目,银行账号
sstc | 孵化载体信息 | U | 载体名称,运营单位,面积
hsg | 安全生产检查信息 | U | 检查编号,企业名称,隐患类别,整改状态
hsg | 网格事件信息 | C | 事件编号,事件类型,居住地址,上报人姓名
hsg | 危险化学品企业信息 | N | 统一社会信用代码,企业名称,重点目标位置,储存品种 | 危化品条例
""".strip().splitlines()
)

# Catalogue gaps the demo plants: no share_condition (S10), no owner/controller or no
# 网信办 risk assessment (S12 once shared).
NO_SHARE_CONDITION = frozenset({"特种设备登记信息", "审计整改信息"})
NO_OWNER = frozenset({"网格事件信息", "孵化载体信息", "价格监测信息"})
NO_RISK_ASSESSMENT = frozenset(
    {"企业股权出质信息", "帮办代办服务信息", "科技企业培育库信息", "网格事件信息"}
)

# What each department uses shared data for (each has at least two purposes).
PURPOSES: dict[str, tuple[str, ...]] = {
    "ndrc": ("公共信用信息归集", "政府投资项目审核"),
    "finance": ("财政补贴资金发放核对", "预算绩效评价"),
    "cac": ("网络安全检查", "数据安全风险评估"),
    "audit_bureau": ("政务信息系统专项审计取证", "预算执行审计"),
    "performance_office": ("共享工作绩效评价", "部门年度考评"),
    "approval_bureau": ("政务服务事项材料免交核验", "企业开办联办"),
    "staffing_office": ("机构编制核查", "事业单位登记管理"),
    "psb": ("户籍业务办理核验", "流动人口服务管理"),
    "hrss": ("社会保险参保资格审核", "就业补贴申领审核"),
    "civil_affairs": ("最低生活保障家庭经济状况核对", "特困人员认定"),
    "amr": ("企业登记信息核验", "食品安全监管执法"),
    "health": ("医疗救助对象身份核验", "出生医学证明办理"),
    "education": ("义务教育入学资格审核", "学生资助对象认定"),
    "housing": ("保障性住房资格审核", "商品房交易资格核验"),
    "planning": ("不动产登记联办", "国土空间规划编制"),
    "sstc": ("人才政策兑现审核", "科技企业培育认定"),
    "hsg": ("企业安全生产监管", "网格化社会治理"),
}
LEGAL_BASES = (
    "《政务信息资源共享管理暂行办法》（国发〔2016〕51号）",
    "《政务数据共享条例》（国务院令第809号）",
    "《社会救助暂行办法》",
    "《中华人民共和国社会保险法》",
    "《中华人民共和国义务教育法》",
    "《优化营商环境条例》",
)
REJECTION_REASONS = (
    "申请信息项超出履职需要",
    "申请事由与本部门职责无关，请补充法定依据",
    "共享期限过长，请按业务周期重新申请",
    "所申请数据正在治理，暂不具备共享条件",
)


@dataclass(frozen=True)
class ProjectSpec:
    """A 信息化项目 filed with ndrc; ``review``: approved | rejected | pending."""

    department: str
    name: str
    investment_wan: int
    om_wan: int
    preregistered: bool
    review: str
    accepted: bool
    funds: bool  # construction funds decided (granted unless rejected, see below)

    @classmethod
    def parse(cls, row: str) -> ProjectSpec:
        dept, name, investment, om, prereg, review, accepted, funds = _cells(row, 8)
        return cls(
            dept,
            name,
            int(investment),
            int(om),
            prereg == "prereg",
            review,
            accepted == "accepted",
            funds == "funds",
        )

    @property
    def review_text(self) -> str:
        """ndrc's 架构治理 conclusion (seed §三(五)17: a refusal says why)."""
        return REVIEW_REFUSALS.get(self.name, "符合共建共享要求，同意建设")


# department | project | investment 万元 | O&M 万元 | catalogue pre-registration | ndrc review
# | accepted | construction funds decided
PROJECTS: tuple[ProjectSpec, ...] = tuple(
    ProjectSpec.parse(row)
    for row in """
psb | 人口信息管理系统升级改造项目 | 680 | 45 | prereg | approved | accepted | funds
psb | 视频监控联网共享平台扩容项目 | 1200 | 90 | prereg | approved | - | funds
hrss | 社会保障业务经办系统数据治理项目 | 320 | 25 | prereg | approved | accepted | funds
hrss | 就业创业服务系统二期项目 | 260 | 20 | no-prereg | rejected | - | funds
civil_affairs | 社会救助“大系统”整合项目 | 450 | 30 | prereg | approved | - | funds
amr | 智慧市场监管平台建设项目 | 800 | 60 | prereg | approved | - | funds
amr | 食品安全追溯系统项目 | 300 | 20 | no-prereg | approved | - | funds
health | 全民健康信息平台三期项目 | 950 | 70 | prereg | approved | accepted | funds
health | 预防接种门诊信息化改造项目 | 180 | 15 | prereg | pending | - | no-funds
education | 智慧教育云平台项目 | 700 | 50 | prereg | approved | - | funds
education | 招生入学报名系统重建项目 | 220 | 18 | no-prereg | rejected | - | funds
housing | 智慧工地监管平台项目 | 380 | 30 | no-prereg | rejected | - | funds
planning | 空间地理信息平台升级项目 | 560 | 40 | prereg | approved | - | funds
approval_bureau | 一体化政务服务平台2026年迭代项目 | 900 | 80 | prereg | approved | accepted | funds
ndrc | 数据共享交换平台扩容项目 | 1500 | 120 | prereg | approved | accepted | funds
ndrc | 公共信用信息平台升级项目 | 400 | 30 | prereg | approved | - | funds
sstc | 科技城企业服务平台二期项目 | 350 | 25 | prereg | pending | - | no-funds
hsg | 经开区城市运行管理中心项目 | 1100 | 85 | no-prereg | approved | - | funds
""".strip().splitlines()
)
REVIEW_REFUSALS = {
    "就业创业服务系统二期项目": "未接入区级数据共享交换平台，就业登记功能与省级系统重复建设",
    "招生入学报名系统重建项目": "与一体化政务服务平台功能重复，未实现统一身份认证",
    "智慧工地监管平台项目": "未进行信息资源目录预编制，监测数据不向共享平台开放",
}
# Rejected by ndrc, yet finance grants construction funds: the F4 findings planted.
FUNDED_DESPITE_REJECTION = frozenset({"就业创业服务系统二期项目", "招生入学报名系统重建项目"})
# Funds for projects never filed (F3).
UNFILED_PROJECTS: tuple[tuple[str, str, int], ...] = (
    ("housing", "老旧小区智能门禁改造项目", 260),
    ("hsg", "网格化巡查App开发项目", 90),
)


def _at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=CST)


class Cast:
    """The actors of the zone: district roles, and per department a clerk, provider and CIO."""

    def __init__(self) -> None:
        self.ndrc = Actor("ndrc-zhangwei", Role.NDRC, None, "10.1.0.11")
        self.finance = Actor("finance-lihua", Role.FINANCE, None, "10.2.0.11")
        self.cac = Actor("cac-wangqiang", Role.SECURITY_OFFICER, None, "10.3.0.11")
        self.auditor = Actor("audit-lijing", Role.AUDITOR, None, "10.4.0.11")
        self.platform = Actor("exchange-platform", Role.EXCHANGE_PLATFORM, None, "10.0.0.10")
        self.index = {code: i for i, (code, _, _) in enumerate(DEPARTMENTS, start=1)}
        self._accessors = {
            code: [f"{code}-staff-{k:02d}" for k in range(1, 7)] + [f"svc-{code}"]
            for code in self.index
        }

    def _actor(self, department: str, role: Role, who: str) -> Actor:
        return Actor(f"{department}-{who}", role, department, f"10.{self.index[department]}.1.2")

    def clerk(self, department: str) -> Actor:
        return self._actor(department, Role.DEPARTMENT_CLERK, "clerk")

    def provider(self, department: str) -> Actor:
        return self._actor(department, Role.DATA_PROVIDER, "provider")

    def cio(self, department: str) -> Actor:
        return self._actor(department, Role.CIO, "cio")

    def accessors(self, department: str) -> list[str]:
        """Six staff accounts and one system account per department."""
        return self._accessors[department]

    def address(self, department: str, rng: random.Random) -> str:
        return f"10.{self.index[department]}.{rng.randint(2, 9)}.{rng.randint(10, 250)}"
