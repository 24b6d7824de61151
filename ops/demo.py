"""``govledger demo``: a year (2026) of the zone's data sharing, loaded through ``GovLedger``.

Why: a newcomer, a reviewer or a test needs a ledger that looks like the zone
of 苏高新办〔2019〕2号 — its departments, their systems, the catalogue, requests
and grants, filings, fund decisions and the exchange platform's accesses — and
that holds violations at a *known* rate, so every projection and report can be
checked against what the demo says it planted. Every command goes through the
application (the only writer); every access is judged by
``security.access.evaluate_access`` before it is recorded, and the demo refuses
to go on if a verdict differs from what it planted.

Deterministic: one ``random.Random(seed)`` draws everything, in a fixed order;
the same seed gives the same facts and the same summary. Aggregate ids (uuid4)
are the exception, so the summary never shows them.

Domain times (submitted_at, decided_at, revoked_at, accessed_at, fund decisions)
come from a clock the demo sets, in China Standard Time; the events' own
``timestamp`` is the library's wall clock at load time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    AccessReason,
    AccessReport,
    AccessVerdict,
    Actor,
    CatalogueEntry,
    FundKind,
    FundOutcome,
    OpenType,
    ResourceItem,
    RiskLevel,
    Role,
    Sensitivity,
    SharingType,
    SystemInventory,
    UpdateCycle,
    ZombieReason,
)
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.errors import LedgerError
from ledger.store.connect import application_env, init_ledger
from ops import argtypes
from ops.terminal import EXIT_OK, progress_bar
from security.access import (
    GrantTerms,
    SharingReadModel,
    evaluate_access,
    grant_terms,
    resource_terms,
)
from security.apikeys import open_api_keys

DEMO_YEAR = 2026
DEFAULT_ACCESSES = 20_000
DEFAULT_SEED = 2019  # the plan's year
DEFAULT_VIOLATION_RATE = 0.02
OFF_HOURS_RATE = 0.005
REQUESTS = 2_000
BATCH_SIZE = 1_000
ACCESS_START = date(DEMO_YEAR, 1, 12)  # the catalogue goes live the week before
YEAR_END = date(DEMO_YEAR, 12, 31)
FEN_PER_WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 分

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

# ---------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What the demo put in the ledger, by kind; ``violations`` are the planted ones.

    ``violations`` counts unauthorized accesses by reason code (each planted access
    has exactly one reason); ``examples`` names one platform event id per reason.
    ``findings`` counts the non-access conditions planted, by domain.md rule id.
    ``requests``: ``approved`` grants still in force or run out, ``revoked`` ones apart;
    ``rejected`` includes the requests for not_shareable resources; ``unanswered`` are
    past their response deadline at the year's end (S6), ``pending`` are not yet.
    """

    seed: int
    counts: dict[str, int]
    systems: dict[str, int]
    resources: dict[str, int]
    requests: dict[str, int]
    filings: dict[str, int]
    funds: dict[str, int]
    accesses: dict[str, int]
    violations: dict[str, int]
    anomalies: dict[str, int]
    findings: dict[str, int]
    examples: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """A few lines for people."""
        lines = [f"govledger demo (seed {self.seed}, year {DEMO_YEAR})"]
        for name in (
            "counts",
            "systems",
            "resources",
            "requests",
            "filings",
            "funds",
            "accesses",
            "violations",
            "anomalies",
            "findings",
        ):
            values: dict[str, int] = getattr(self, name)
            lines.append(f"  {name:<10} " + ", ".join(f"{k} {v}" for k, v in values.items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------
# Clock, actors, live read model
# ---------------------------------------------------------------------------------


@dataclass
class DemoClock:
    """The application's clock during the load: set to each fact's own time."""

    now: datetime = datetime(DEMO_YEAR, 1, 5, 9, 0, tzinfo=CST)

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def _clock_of(app: GovLedger, clock: DemoClock) -> Iterator[None]:
    """GovLedger takes its clock at construction; the demo lends it its own for the load."""
    saved = app.clock
    app.clock = clock
    try:
        yield
    finally:
        app.clock = saved


def _at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=CST)


class Cast:
    """The actors of the zone: district roles, and per department a clerk, provider and CIO."""

    def __init__(self) -> None:
        self.ndrc = Actor("ndrc-zhangwei", Role.NDRC, None, "10.1.0.11")
        self.finance = Actor("finance-lihua", Role.FINANCE, None, "10.2.0.11")
        self.cac = Actor("cac-wangqiang", Role.SECURITY_OFFICER, None, "10.3.0.11")
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


class LiveTerms:
    """The evaluator's read model: built once from the aggregates, updated as grants change.

    ``SharingReadModel`` holds the mappings it is given, so updating these dicts in
    place keeps one model current without rebuilding it per grant.
    """

    def __init__(self, app: GovLedger, codes: list[str]) -> None:
        self.app = app
        self._grants: dict[UUID, GrantTerms] = {}
        self._by_user: dict[tuple[str, str], list[GrantTerms]] = defaultdict(list)
        resources = {code: resource_terms(app.resource(code)) for code in codes}
        self.model = SharingReadModel(resources, self._grants, self._by_user)

    def refresh(self, request_id: UUID) -> None:
        """Re-read one request from the ledger after it was approved or revoked."""
        terms = grant_terms(self.app.request(request_id))
        if terms is None:
            return
        user = self._by_user[terms.department, terms.resource_code]
        old = self._grants.get(terms.grant_id)
        if old is None:
            user.append(terms)
        else:
            user[user.index(old)] = terms
        self._grants[terms.grant_id] = terms


# ---------------------------------------------------------------------------------
# The plan of the year's sharing requests (pure: drawn from the RNG, nothing written)
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """What the planner needs of the registered resources, by code."""

    provider: dict[str, str]
    sharing: dict[str, SharingType]
    items: dict[str, tuple[str, ...]]
    sensitive: dict[str, frozenset[str]]

    def codes(self, sharing: SharingType) -> list[str]:
        return [code for code, kind in self.sharing.items() if kind is sharing]


@dataclass
class PlannedRequest:
    """One sharing request and its fate. Days are local dates; ``end_day`` is exclusive."""

    index: int
    requester: str
    resource: str
    items: tuple[str, ...]
    purpose: str
    legal_basis: str
    submitted: datetime
    outcome: str  # approved | revoked | rejected | rejected_no_reason | unanswered | pending
    decided: datetime | None = None
    granted: tuple[str, ...] = ()
    expires: datetime | None = None
    revoked: datetime | None = None
    reason: str = ""

    @property
    def approved_day(self) -> date:
        assert self.decided is not None
        return self.decided.date()

    @property
    def end_day(self) -> date:
        """First local day on which the grant no longer covers the whole day."""
        assert self.expires is not None
        return self.revoked.date() if self.revoked else self.expires.date()


def _working_days(calendar_check: Callable[[date], bool], start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if calendar_check(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _subset(rng: random.Random, items: tuple[str, ...], least: int = 1) -> tuple[str, ...]:
    """A random non-empty subset, in catalogue order."""
    chosen = set(rng.sample(items, rng.randint(min(least, len(items)), len(items))))
    return tuple(item for item in items if item in chosen)


class RequestPlanner:
    """Draws ~2,000 requests over the year with realistic fates (51号 conditional sharing)."""

    def __init__(self, app: GovLedger, rng: random.Random, catalogue: Catalogue) -> None:
        self.app = app
        self.rng = rng
        self.catalogue = catalogue
        is_working = app.deadline.calendar.is_working_day
        self.working = _working_days(is_working, date(DEMO_YEAR, 1, 12), date(DEMO_YEAR, 12, 24))
        self.is_working = is_working

    def plan(self, count: int) -> list[PlannedRequest]:
        conditional = self.catalogue.codes(SharingType.CONDITIONAL)
        not_shareable = self.catalogue.codes(SharingType.NOT_SHAREABLE)
        plans = []
        for index in range(count):
            pool = not_shareable if self.rng.random() < 0.015 else conditional
            plans.append(self._one(index, self.rng.choice(pool)))
        plans.sort(key=lambda p: p.submitted)
        return plans

    def _one(self, index: int, code: str) -> PlannedRequest:
        rng, provider = self.rng, self.catalogue.provider[code]
        requester = rng.choice([d for d, _, _ in DEPARTMENTS if d != provider])
        day = rng.choice(self.working)
        plan = PlannedRequest(
            index=index,
            requester=requester,
            resource=code,
            items=_subset(rng, self.catalogue.items[code], least=2),
            purpose=rng.choice(PURPOSES[requester]),
            legal_basis=rng.choice(LEGAL_BASES),
            submitted=_at(day, rng.randint(9, 16), rng.randint(0, 59), rng.randint(0, 59)),
            outcome="pending",
        )
        self._decide(plan, not_shareable=self.catalogue.sharing[code] is SharingType.NOT_SHAREABLE)
        return plan

    def _answer_day(self, submitted: date, late: bool) -> date:
        due = self.app.deadline.due(_at(submitted, 12))
        if late:
            day = due + timedelta(days=self.rng.randint(3, 20))
            while not self.is_working(day):
                day += timedelta(days=1)
            return day
        count = self.rng.randint(1, 8)
        day = submitted
        while count:
            day += timedelta(days=1)
            count -= self.is_working(day)
        return min(day, due)

    def _decide(self, plan: PlannedRequest, *, not_shareable: bool) -> None:
        rng, submitted = self.rng, plan.submitted.date()
        draw = rng.random()
        if draw < 0.04:
            overdue = self.app.deadline.due(plan.submitted) < date(DEMO_YEAR, 12, 1)
            plan.outcome = "unanswered" if overdue else "pending"
            return
        answered = self._answer_day(submitted, late=rng.random() < 0.08)
        if answered > YEAR_END:
            return  # still pending at the year's end
        plan.decided = _at(answered, rng.randint(9, 17), rng.randint(0, 59))
        if not_shareable:
            plan.outcome, plan.reason = (
                "rejected",
                "该资源为不予共享类，依据其目录所列法律依据不予提供",
            )
        elif draw < 0.13:
            plan.outcome, plan.reason = "rejected", rng.choice(REJECTION_REASONS)
        elif draw < 0.16:
            plan.outcome = "rejected_no_reason"  # S7
        else:
            self._grant(plan)

    def _grant(self, plan: PlannedRequest) -> None:
        rng = self.rng
        assert plan.decided is not None
        plan.outcome = "approved"
        narrowed = len(plan.items) > 2 and rng.random() < 0.3  # the provider grants less
        plan.granted = _subset(rng, plan.items, least=1) if narrowed else plan.items
        expiry = plan.decided.date() + timedelta(days=rng.randint(45, 420))
        plan.expires = _at(expiry, 0)
        if rng.random() < 0.07:
            revoke_day = plan.decided.date() + timedelta(days=rng.randint(10, 120))
            if revoke_day < min(expiry, YEAR_END):
                plan.revoked = _at(revoke_day, 15, rng.randint(0, 59))
                plan.outcome = "revoked"


# ---------------------------------------------------------------------------------
# The exchange platform's accesses, day by day, with planted violations
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedAccess:
    report: AccessReport
    expected: tuple[AccessReason, ...]
    kind: str  # normal | off_hours_sensitive | a reason code


class AccessPlanner:
    """Draws each day's accesses; a planted one is built so it has exactly one reason."""

    def __init__(
        self,
        rng: random.Random,
        catalogue: Catalogue,
        plans: list[PlannedRequest],
        cast: Cast,
        systems: dict[str, str],
        violation_rate: float,
    ) -> None:
        self.rng, self.catalogue, self.cast, self.systems = rng, catalogue, cast, systems
        self.violation_rate = violation_rate
        self.grants = [p for p in plans if p.outcome in ("approved", "revoked")]
        self.grant_ids: dict[int, UUID] = {}  # filled in as requests are submitted
        granted_pairs = {(p.requester, p.resource) for p in self.grants}
        departments = [d for d, _, _ in DEPARTMENTS]
        conditional = catalogue.codes(SharingType.CONDITIONAL)
        self.no_grant_pairs = [
            (d, c)
            for c in conditional
            for d in departments
            if d != catalogue.provider[c] and (d, c) not in granted_pairs
        ]
        self.unconditional = catalogue.codes(SharingType.UNCONDITIONAL)
        self.not_shareable = catalogue.codes(SharingType.NOT_SHAREABLE)
        self.sensitive_any = [c for c in catalogue.provider if catalogue.sensitive[c]]
        self.seq = 0

    # -- the day's grant situation ---------------------------------------------

    def _situation(self, day: date) -> dict[str, list[PlannedRequest]]:
        in_force = [g for g in self.grants if g.approved_day < day < g.end_day]
        return {
            "in_force": in_force,
            "expired": [g for g in self.grants if g.revoked is None and g.end_day <= day],
            "revoked": [g for g in self.grants if g.revoked is not None and g.end_day < day],
            "partial": [
                g for g in in_force if len(g.granted) < len(self.catalogue.items[g.resource])
            ],
        }

    def day(self, day: date, count: int) -> list[PlannedAccess]:
        situation = self._situation(day)
        out = [self._draw(day, situation) for _ in range(count)]
        out.sort(key=lambda a: a.report.accessed_at)
        return out

    def _draw(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        draw = self.rng.random()
        if draw < self.violation_rate:
            return self._violation(day, s)
        if draw < self.violation_rate + OFF_HOURS_RATE:
            return self._off_hours(day, s)
        return self._normal(day, s)

    # -- building blocks ---------------------------------------------------------

    def _report(
        self,
        when: datetime,
        department: str,
        code: str,
        items: tuple[str, ...],
        purpose: str | None,
        grant: PlannedRequest | None = None,
    ) -> AccessReport:
        rng = self.rng
        self.seq += 1
        return AccessReport(
            platform_event_id=f"xchg-{DEMO_YEAR}-{self.seq:09d}",
            accessor_id=rng.choice(self.cast.accessors(department)),
            department=department,
            system=self.systems.get(department),
            resource_code=code,
            items=items,
            row_count=rng.randint(1, 200) if rng.random() < 0.97 else rng.randint(1_000, 20_000),
            purpose=purpose,
            grant_id=None if grant is None else self.grant_ids[grant.index],
            client_address=self.cast.address(department, rng),
            accessed_at=when,
        )

    def _work_time(self, day: date) -> datetime:
        return _at(day, 8, 30) + timedelta(seconds=self.rng.randint(0, 9 * 3600 + 1800))

    def _night_time(self, day: date) -> datetime:
        """22:00–05:59 local: off-hours by any reading."""
        minute = self.rng.choice((self.rng.randint(22 * 60, 24 * 60 - 1), self.rng.randint(0, 359)))
        return _at(day, minute // 60, minute % 60, self.rng.randint(0, 59))

    def _other_department(self, code: str) -> str:
        provider = self.catalogue.provider[code]
        return self.rng.choice([d for d, _, _ in DEPARTMENTS if d != provider])

    def _purpose(self, department: str) -> str:
        return self.rng.choice(PURPOSES[department])

    def _via_grant(
        self,
        when: datetime,
        grant: PlannedRequest,
        items: tuple[str, ...] | None = None,
        purpose: str | None = None,
    ) -> AccessReport:
        """An access quoting ``grant``: by default some granted items, for the granted purpose."""
        items = items or _subset(self.rng, grant.granted)
        purpose = purpose or grant.purpose
        return self._report(when, grant.requester, grant.resource, items, purpose, grant)

    # -- normal traffic ----------------------------------------------------------

    def _normal(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        when, draw = self._work_time(day), self.rng.random()
        if draw < 0.45 and s["in_force"]:
            report = self._via_grant(when, self.rng.choice(s["in_force"]))
        elif draw < 0.8:
            code = self.rng.choice(self.unconditional)
            department = self._other_department(code)
            items = _subset(self.rng, self.catalogue.items[code])
            report = self._report(when, department, code, items, self._purpose(department))
        else:
            code = self.rng.choice(list(self.catalogue.provider))
            department = self.catalogue.provider[code]
            items = _subset(self.rng, self.catalogue.items[code])
            report = self._report(when, department, code, items, self._purpose(department))
        return PlannedAccess(report, (), "normal")

    def _off_hours(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        """An anomaly, not a violation: a lawful read of sensitive personal items at night."""
        when = self._night_time(day)
        sensitive = [
            g for g in s["in_force"] if self.catalogue.sensitive[g.resource] & set(g.granted)
        ]
        if sensitive:
            grant = self.rng.choice(sensitive)
            report = self._via_grant(when, grant, items=grant.granted)
        else:
            code = self.rng.choice(self.sensitive_any)
            department = self.catalogue.provider[code]
            report = self._report(
                when, department, code, self.catalogue.items[code], self._purpose(department)
            )
        return PlannedAccess(report, (), "off_hours_sensitive")

    # -- planted violations ------------------------------------------------------

    def _violation(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        """One of the seven reasons, among those today's grants make possible."""
        plain: dict[AccessReason, Callable[[datetime], AccessReport]] = {
            AccessReason.RESOURCE_NOT_SHAREABLE: self._not_shareable,
            AccessReason.UNKNOWN_RESOURCE: self._unknown,
            AccessReason.NO_GRANT: self._no_grant,
        }
        via_grant: dict[
            AccessReason, tuple[str, Callable[[datetime, PlannedRequest], AccessReport]]
        ]
        via_grant = {
            AccessReason.GRANT_EXPIRED: ("expired", self._via_grant),
            AccessReason.GRANT_REVOKED: ("revoked", self._via_grant),
            AccessReason.ITEMS_BEYOND_GRANT: ("partial", self._beyond),
            AccessReason.PURPOSE_MISMATCH: ("in_force", self._other_purpose),
        }
        possible = [*plain, *(r for r, (pool, _) in via_grant.items() if s[pool])]
        reason, when = self.rng.choice(possible), self._work_time(day)
        if reason in plain:
            report = plain[reason](when)
        else:
            pool, make = via_grant[reason]
            report = make(when, self.rng.choice(s[pool]))
        return PlannedAccess(report, (reason,), reason.value)

    def _not_shareable(self, when: datetime) -> AccessReport:
        code = self.rng.choice(self.not_shareable)
        department = self._other_department(code)
        items = _subset(self.rng, self.catalogue.items[code])
        return self._report(when, department, code, items, self._purpose(department))

    def _unknown(self, when: datetime) -> AccessReport:
        """A city-catalogue code the district catalogue does not list (S5)."""
        department = self.rng.choice([d for d, _, _ in DEPARTMENTS])
        code = f"SZ-CITY-{self.rng.randint(1, 40):03d}"
        return self._report(
            when, department, code, ("姓名", "公民身份号码"), self._purpose(department)
        )

    def _no_grant(self, when: datetime) -> AccessReport:
        department, code = self.rng.choice(self.no_grant_pairs)
        items = _subset(self.rng, self.catalogue.items[code])
        return self._report(when, department, code, items, self._purpose(department))

    def _beyond(self, when: datetime, grant: PlannedRequest) -> AccessReport:
        extra = [i for i in self.catalogue.items[grant.resource] if i not in grant.granted]
        return self._via_grant(when, grant, items=(*grant.granted, self.rng.choice(extra)))

    def _other_purpose(self, when: datetime, grant: PlannedRequest) -> AccessReport:
        """Purpose drift: the department's other duty, not the one it was granted for (S4)."""
        others = [p for p in PURPOSES[grant.requester] if p != grant.purpose]
        return self._via_grant(when, grant, purpose=self.rng.choice(others))


def allocate(total: int, days: list[date], is_working: Callable[[date], bool]) -> list[int]:
    """Spread ``total`` accesses over ``days`` (weekends light), exactly, without the RNG."""
    weights = [1.0 if is_working(day) else 0.08 for day in days]
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(days)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


# ---------------------------------------------------------------------------------
# The loader: setup, then the year in time order
# ---------------------------------------------------------------------------------


class DemoError(LedgerError):
    """The demo cannot run here (a ledger with data), or it planted what it did not get."""


Action = tuple[datetime, int, Callable[[], None]]


class DemoLoader:
    """Writes the demo through ``GovLedger`` commands and counts what it wrote."""

    def __init__(
        self,
        app: GovLedger,
        rng: random.Random,
        progress: Callable[[int], None],
    ) -> None:
        self.app, self.rng, self.progress = app, rng, progress
        self.cast = Cast()
        self.clock = DemoClock()
        self.system_ids: dict[str, UUID] = {}
        self.using_system: dict[str, str] = {}
        self.codes: dict[str, str] = {}  # resource name -> code
        self.request_ids: dict[int, UUID] = {}
        self.filing_ids: dict[str, UUID] = {}
        self.provider_of: dict[str, str] = {}
        self.tally: dict[str, Counter[str]] = defaultdict(Counter)
        self.examples: dict[str, str] = {}

    # -- setup (January) -------------------------------------------------------

    def departments(self) -> None:
        for i, (code, name, _) in enumerate(DEPARTMENTS):
            self.app.register_department(self.cast.ndrc, code, name)
            cio = SURNAMES[i % len(SURNAMES)] + GIVEN_NAMES[i % len(GIVEN_NAMES)]
            self.app.name_cio(self.cast.clerk(code), code, cio, self.cast.cio(code).actor_id)
            self.tally["counts"]["departments"] += 1

    def systems(self) -> None:
        for spec in SYSTEMS:
            self.system_ids[spec.name] = self._system(spec)
        for spec in SYSTEMS:
            self._fate(spec)
            if spec.connection == "connected" and not spec.fate:
                self.using_system.setdefault(spec.department, str(self.system_ids[spec.name]))

    def _system(self, spec: SystemSpec) -> UUID:
        cio, rng = self.cast.cio(spec.department), self.rng
        inventory = SystemInventory(
            name=spec.name,
            function=spec.function,
            scope_of_use=rng.choice(("全区", "本部门", "本部门及各板块")),
            usage_frequency=rng.choice(("每日", "每周", "每月")),
            approving_body="区发改局",
            approval_date=date(rng.randint(2012, 2024), rng.randint(1, 12), rng.randint(1, 28)),
            funding_source=rng.choice(("区级财政资金", "上级专项资金", "部门预算")),
        )
        system_id = self.app.register_system(
            cio,
            spec.department,
            inventory,
            required_to_connect=spec.connection != "exempt",
            holds_personal_data="P" in spec.holds,
            holds_important_data="I" in spec.holds,
        )
        self.app.record_mlps(cio, system_id, *spec.mlps)
        if spec.connection == "connected":
            self.app.connect_system(cio, system_id)
        if spec.on_cloud:
            self.app.move_system_on_cloud(cio, system_id)
        self._count_system(spec)
        return system_id

    def _count_system(self, spec: SystemSpec) -> None:
        counts = self.tally["systems"]
        counts["registered"] += 1
        counts["connected"] += spec.connection == "connected"
        counts["required_not_connected"] += spec.connection == "unconnected"
        counts["on_cloud"] += spec.on_cloud
        counts["mlps_unfiled"] += not spec.mlps[1]
        self.tally["findings"]["I2"] += bool(spec.holds) and not spec.mlps[1]

    def _fate(self, spec: SystemSpec) -> None:
        cio, system_id = self.cast.cio(spec.department), self.system_ids[spec.name]
        if spec.fate == "zombie":
            reasons = self.rng.sample(list(ZombieReason), 2)
            self.app.mark_system_zombie(cio, system_id, reasons)
        elif spec.fate.startswith("merged:"):
            self.app.merge_system(cio, system_id, self.system_ids[spec.fate.split(":", 1)[1]])
        elif spec.fate == "decommissioned":
            self.app.decommission_system(cio, system_id, "功能并入区级平台，停止运行")
        if spec.fate:
            self.tally["systems"][spec.fate.split(":")[0]] += 1
        self.tally["counts"]["systems"] += 1

    def catalogue(self) -> Catalogue:
        abbr = {code: a for code, _, a in DEPARTMENTS}
        serial: Counter[str] = Counter()
        for spec in RESOURCES:
            serial[spec.department] += 1
            code = f"GX-{abbr[spec.department]}-{serial[spec.department]:03d}"
            self.codes[spec.name] = code
            self._resource(code, spec)
        view = self._catalogue_view()
        self.provider_of = view.provider
        return view

    def _entry(self, code: str, spec: ResourceSpec) -> CatalogueEntry:
        rng = self.rng
        names = [n.rstrip("*") for n in spec.items.split(",")]
        items = tuple(
            ResourceItem(n, ITEM_SENSITIVITY.get(n, Sensitivity.GENERAL), raw.endswith("*"))
            for n, raw in zip(names, spec.items.split(","), strict=True)
        )
        sharing = {
            "U": SharingType.UNCONDITIONAL,
            "C": SharingType.CONDITIONAL,
            "N": SharingType.NOT_SHAREABLE,
        }[spec.sharing]
        personal = any(
            i.sensitivity in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL) for i in items
        )
        open_to_public = sharing is SharingType.UNCONDITIONAL and not personal
        open_type = OpenType.UNCONDITIONAL if open_to_public else OpenType.NOT_OPEN
        condition = "限于法定职责范围内使用，经提供方审核同意"
        if sharing is SharingType.UNCONDITIONAL or spec.name in NO_SHARE_CONDITION:
            condition = ""
        return CatalogueEntry(
            code=code,
            name=spec.name,
            provider_department=spec.department,
            items=items,
            sharing_type=sharing,
            legal_basis=spec.legal_basis,
            open_type=open_type,
            update_cycle=rng.choice(
                (
                    UpdateCycle.REAL_TIME,
                    UpdateCycle.DAILY,
                    UpdateCycle.WEEKLY,
                    UpdateCycle.MONTHLY,
                    UpdateCycle.QUARTERLY,
                )
            ),
            summary=f"{DEPARTMENT_NAMES[spec.department]}提供的{spec.name}",
            format=rng.choice(("数据库表", "接口服务", "电子文件")),
            publish_date=date(DEMO_YEAR, 1, 6),
            share_condition=condition,
            share_method="" if sharing is SharingType.NOT_SHAREABLE else "共享交换平台接口",
            base_resource=any(i.base_item for i in items),
        )

    def _resource(self, code: str, spec: ResourceSpec) -> None:
        entry = self._entry(code, spec)
        provider = self.cast.provider(spec.department)
        self.app.register_resource(provider, entry)
        if spec.name not in NO_OWNER:
            self.app.assign_resource_owner(provider, code, spec.department)
            self.app.assign_resource_controller(provider, code, spec.department)
        if spec.name not in NO_RISK_ASSESSMENT:
            self.app.record_risk_assessment(self.cast.cac, code, *self._assessment(entry))
        counts = self.tally["resources"]
        counts[entry.sharing_type.value] += 1
        counts["base"] += entry.base_resource
        counts["with_sensitive_personal"] += any(
            i.sensitivity is Sensitivity.SENSITIVE_PERSONAL for i in entry.items
        )
        counts["no_owner"] += spec.name in NO_OWNER
        counts["no_risk_assessment"] += spec.name in NO_RISK_ASSESSMENT
        findings = self.tally["findings"]
        findings["S9"] += (
            entry.base_resource and entry.sharing_type is not SharingType.UNCONDITIONAL
        )
        findings["S10"] += spec.name in NO_SHARE_CONDITION
        self.tally["counts"]["resources"] += 1

    def _assessment(self, entry: CatalogueEntry) -> tuple[str, RiskLevel, str]:
        self.tally["counts"]["risk_assessments"] += 1
        n = self.tally["counts"]["risk_assessments"]
        grades = {i.sensitivity for i in entry.items}
        level = RiskLevel.LOW
        if grades & {Sensitivity.PERSONAL, Sensitivity.IMPORTANT}:
            level = RiskLevel.MEDIUM
        if grades & {Sensitivity.SENSITIVE_PERSONAL, Sensitivity.CORE}:
            level = RiskLevel.HIGH
        return f"苏高新网信评〔{DEMO_YEAR}〕{n}号", level, f"{entry.name}共享风险评估"

    def _catalogue_view(self) -> Catalogue:
        resources = [self.app.resource(code) for code in self.codes.values()]
        return Catalogue(
            provider={r.code: r.provider_department for r in resources},
            sharing={r.code: r.sharing_type for r in resources},
            items={r.code: tuple(i.name for i in r.items) for r in resources},
            sensitive={r.code: r.items_with(Sensitivity.SENSITIVE_PERSONAL) for r in resources},
        )

    # -- actions of the year ---------------------------------------------------

    def request_actions(self, plans: list[PlannedRequest], live: LiveTerms) -> list[Action]:
        actions: list[Action] = []
        for p in plans:
            actions.append((p.submitted, 0, partial(self._submit, p)))
            if p.decided is not None:
                actions.append((p.decided, 1, partial(self._answer, p, live)))
            if p.revoked is not None:
                actions.append((p.revoked, 2, partial(self._revoke, p, live)))
            self.tally["requests"][p.outcome] += 1
            self.tally["findings"]["S6"] += p.outcome == "unanswered"
            self.tally["findings"]["S7"] += p.outcome == "rejected_no_reason"
        self.tally["counts"]["requests"] = len(plans)
        return actions

    def _submit(self, p: PlannedRequest) -> None:
        self.request_ids[p.index] = self.app.submit_request(
            self.cast.clerk(p.requester),
            requester_department=p.requester,
            resource_code=p.resource,
            items=p.items,
            purpose=p.purpose,
            legal_basis=p.legal_basis,
            period_start=p.submitted.date(),
            period_end=(p.expires or p.submitted + timedelta(days=365)).date() - timedelta(days=1),
        )

    def _answer(self, p: PlannedRequest, live: LiveTerms) -> None:
        provider = self.cast.provider(self.provider_of[p.resource])
        request_id = self.request_ids[p.index]
        if p.expires is None:
            self.app.reject_request(provider, request_id, p.reason)
            return
        self.app.approve_request(provider, request_id, p.granted, p.expires)
        live.refresh(request_id)

    def _revoke(self, p: PlannedRequest, live: LiveTerms) -> None:
        provider = self.cast.provider(self.provider_of[p.resource])
        reason = self.rng.choice(("使用部门超范围使用数据", "共享协议终止", "数据安全检查发现问题"))
        self.app.revoke_grant(provider, self.request_ids[p.index], reason)
        live.refresh(self.request_ids[p.index])

    def fund_actions(self) -> list[Action]:
        """Filings and ndrc's reviews in February, funds from mid-March, acceptance in November."""
        actions: list[Action] = []
        for n, spec in enumerate(PROJECTS):
            filed = _at(date(DEMO_YEAR, 2, 2) + timedelta(days=n), 10)
            actions.append((filed, 3, partial(self._file, spec)))
            if spec.funds:
                funded = _at(date(DEMO_YEAR, 4, 13) + timedelta(days=n), 14)
                actions.append((funded, 4, partial(self._construction_funds, spec)))
            if spec.accepted:
                actions.append((_at(date(DEMO_YEAR, 11, 16), 10), 5, partial(self._accept, spec)))
        for n, (department, name, wan) in enumerate(UNFILED_PROJECTS):
            when = _at(date(DEMO_YEAR, 5, 11) + timedelta(days=n), 15)
            actions.append((when, 4, partial(self._unfiled, department, name, wan)))
        for n, system in enumerate(s for s in SYSTEMS if s.fate in ("", "zombie")):
            when = _at(date(DEMO_YEAR, 3, 16) + timedelta(days=n % 5), 9, 30 + n)
            actions.append((when, 4, partial(self._om_funds, system)))
        return actions

    def _file(self, spec: ProjectSpec) -> None:
        own = [self.codes[r.name] for r in RESOURCES if r.department == spec.department][:2]
        systems = [
            self.system_ids[s.name]
            for s in SYSTEMS
            if s.department == spec.department and not s.fate
        ][:1]
        filing_id = self.app.file_project(
            self.cast.cio(spec.department),
            name=spec.name,
            builder=spec.department,
            investment_fen=spec.investment_wan * FEN_PER_WAN,
            om_cost_fen=spec.om_wan * FEN_PER_WAN,
            funding_channel="区级财政资金",
            resource_codes=own,
            system_ids=systems,
            mlps_filed=True,
            catalogue_preregistered=spec.preregistered,
        )
        self.filing_ids[spec.name] = filing_id
        if spec.review != "pending":
            self.app.review_project(
                self.cast.ndrc, filing_id, spec.review == "approved", spec.review_text
            )
        self.tally["filings"][spec.review] += 1
        self.tally["findings"]["F5"] += not spec.preregistered
        self.tally["counts"]["filings"] += 1

    def _accept(self, spec: ProjectSpec) -> None:
        self.app.accept_project(self.cast.ndrc, self.filing_ids[spec.name])
        self.tally["filings"]["accepted"] += 1

    def _decide(
        self,
        kind: FundKind,
        department: str,
        wan: int,
        granted: bool,
        rationale: str,
        **target: Any,
    ) -> None:
        self.app.decide_funds(
            self.cast.finance,
            kind=kind,
            year=DEMO_YEAR,
            department=department,
            amount_fen=wan * FEN_PER_WAN,
            outcome=FundOutcome.GRANTED if granted else FundOutcome.WITHHELD,
            rationale=rationale,
            **target,
        )
        self.tally["funds"][f"{kind.value}_{'granted' if granted else 'withheld'}"] += 1
        self.tally["counts"]["fund_decisions"] += 1

    def _construction_funds(self, spec: ProjectSpec) -> None:
        rejected = spec.review == "rejected"
        granted = not rejected or spec.name in FUNDED_DESPITE_REJECTION
        self.tally["findings"]["F4"] += rejected and granted
        rationale = "按备案批复安排建设经费" if granted else "架构治理未通过，不予安排"
        self._decide(
            FundKind.CONSTRUCTION_FUNDS,
            spec.department,
            spec.investment_wan,
            granted,
            rationale,
            filing_id=self.filing_ids[spec.name],
            project_name=spec.name,
        )

    def _unfiled(self, department: str, name: str, wan: int) -> None:
        self.tally["findings"]["F3"] += 1
        self._decide(
            FundKind.CONSTRUCTION_FUNDS,
            department,
            wan,
            True,
            "部门急需，先行安排",
            project_name=name,
        )

    def _om_funds(self, spec: SystemSpec) -> None:
        unconnected, zombie = spec.connection == "unconnected", spec.fate == "zombie"
        granted = spec.name in OM_GRANTED_DESPITE_RULES or not (unconnected or zombie)
        self.tally["findings"]["F1"] += granted and unconnected
        self.tally["findings"]["F2"] += granted and zombie
        rationale = (
            "年度运维经费" if granted else "未接入共享交换平台或为僵尸系统，不予安排运维经费"
        )
        self._decide(
            FundKind.OM_FUNDS,
            spec.department,
            self.rng.randint(8, 80),
            granted,
            rationale,
            system_id=self.system_ids[spec.name],
        )

    # -- the year --------------------------------------------------------------

    def year(
        self, actions: list[Action], accesses: AccessPlanner, total: int, live: LiveTerms
    ) -> None:
        """Walk the days: each day's commands and accesses in time order, accesses batched."""
        by_day: dict[date, list[Action]] = defaultdict(list)
        for action in actions:
            by_day[action[0].date()].append(action)
        days = [ACCESS_START + timedelta(days=n) for n in range((YEAR_END - ACCESS_START).days + 1)]
        counts = allocate(total, days, self.app.deadline.calendar.is_working_day)
        first = min([*by_day, ACCESS_START])
        for day in [first + timedelta(days=n) for n in range((ACCESS_START - first).days)]:
            self._run(sorted(by_day.pop(day, []), key=lambda a: (a[0], a[1])))
        batch: list[tuple[AccessReport, AccessVerdict]] = []
        for day, count in zip(days, counts, strict=True):
            todays = sorted(by_day.pop(day, []), key=lambda a: (a[0], a[1]))
            planned = accesses.day(day, count)
            batch = self._merge(todays, planned, batch, live)
        self._flush(batch)
        for day in sorted(by_day):  # nothing is planned after the year; kept for safety
            self._run(sorted(by_day[day], key=lambda a: (a[0], a[1])))

    def _run(self, actions: list[Action]) -> None:
        for when, _, act in actions:
            self.clock.now = when
            act()

    def _merge(
        self,
        actions: list[Action],
        planned: list[PlannedAccess],
        batch: list[tuple[AccessReport, AccessVerdict]],
        live: LiveTerms,
    ) -> list[tuple[AccessReport, AccessVerdict]]:
        i = 0
        for access in planned:
            while i < len(actions) and actions[i][0] <= access.report.accessed_at:
                self._run([actions[i]])
                i += 1
            batch.append((access.report, self._judge(access, live)))
            if len(batch) == BATCH_SIZE:
                batch = self._flush(batch)
        self._run(actions[i:])
        return batch

    def _judge(self, access: PlannedAccess, live: LiveTerms) -> AccessVerdict:
        verdict = evaluate_access(access.report, live.model)
        if verdict.reasons != access.expected:
            raise DemoError(
                f"{access.report.platform_event_id}: planted {access.kind} {access.expected}, "
                f"evaluated {verdict.reasons}"
            )
        counts = self.tally["accesses"]
        counts["recorded"] += 1
        counts["authorized" if verdict.authorized else "unauthorized"] += 1
        if access.kind == "off_hours_sensitive":
            self.tally["anomalies"]["off_hours_sensitive"] += 1
        for reason in verdict.reasons:
            self.tally["violations"][reason.value] += 1
            self.examples.setdefault(reason.value, access.report.platform_event_id)
        return verdict

    def _flush(
        self, batch: list[tuple[AccessReport, AccessVerdict]]
    ) -> list[tuple[AccessReport, AccessVerdict]]:
        if batch:
            self.app.record_accesses(self.cast.platform, batch)
            self.progress(len(batch))
        return []


def load_demo(
    app: GovLedger,
    *,
    accesses: int = DEFAULT_ACCESSES,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] = lambda _n: None,
    violation_rate: float = DEFAULT_VIOLATION_RATE,
    requests: int = REQUESTS,
) -> DemoSummary:
    """Load the demo year into an empty ledger; ``progress`` gets each access batch's size."""
    if accesses < 0 or not 0 <= violation_rate <= 1 - OFF_HOURS_RATE:
        raise DemoError("accesses must be >= 0 and violation_rate within [0, 0.995]")
    start = app.recorder.max_notification_id() or 0
    if start:
        raise DemoError("the ledger already holds events: load the demo into a fresh ledger")
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    loader = DemoLoader(app, rng, progress)
    with _clock_of(app, loader.clock):
        loader.departments()
        loader.systems()
        catalogue = loader.catalogue()
        live = LiveTerms(app, list(loader.codes.values()))
        plans = RequestPlanner(app, rng, catalogue).plan(requests)
        planner = AccessPlanner(
            rng, catalogue, plans, loader.cast, loader.using_system, violation_rate
        )
        planner.grant_ids = loader.request_ids  # filled as the year's requests are submitted
        actions = loader.request_actions(plans, live) + loader.fund_actions()
        loader.year(actions, planner, accesses, live)
    return _summary(loader, seed, (app.recorder.max_notification_id() or 0) - start)


def _summary(loader: DemoLoader, seed: int, events: int) -> DemoSummary:
    tally = loader.tally
    tally["counts"]["accesses"] = tally["accesses"]["recorded"]
    tally["counts"]["ledger_events"] = events

    def part(name: str) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(tally[name].items())}

    return DemoSummary(
        seed=seed,
        counts=part("counts"),
        systems=part("systems"),
        resources=part("resources"),
        requests=part("requests"),
        filings=part("filings"),
        funds=part("funds"),
        accesses=part("accesses"),
        violations=part("violations"),
        anomalies=part("anomalies"),
        findings=part("findings"),
        examples=dict(sorted(loader.examples.items())),
    )


# ---------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """``govledger demo``: load the demo year into the configured (empty) ledger."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        if args.if_empty and (app.recorder.max_notification_id() or 0) > 0:
            print("govledger: the ledger already holds events; demo not loaded", file=sys.stderr)
            return EXIT_OK
        with progress_bar(args.accesses, "demo accesses") as advance:
            summary = load_demo(
                app,
                accesses=args.accesses,
                seed=args.seed,
                progress=advance,
                violation_rate=args.violation_rate,
                requests=args.requests,
            )
    finally:
        app.close()
    print(json.dumps(summary.to_json(), ensure_ascii=False) if args.json else summary.describe())
    if args.tokens:
        write_demo_tokens(settings, Path(args.tokens))
        print(f"demo API tokens (one per role) written to {args.tokens}", file=sys.stderr)
    return EXIT_OK


# Who a newcomer can be in the console and /docs: one key per role of the demo zone.
DEMO_KEY_HOLDERS: tuple[tuple[Role, str | None], ...] = (
    (Role.ADMIN, None),
    (Role.AUDITOR, None),
    (Role.SECURITY_OFFICER, None),
    (Role.NDRC, None),
    (Role.FINANCE, None),
    (Role.EXCHANGE_PLATFORM, None),
    (Role.DATA_PROVIDER, "gongan"),
    (Role.DEPARTMENT_CLERK, "minzheng"),
)


def write_demo_tokens(settings: Settings, path: Path) -> None:
    """Mint demo keys and write them to a file only its owner can read (never the database,
    never a log: the store keeps only their hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = open_api_keys(settings)
    try:
        lines = [
            f"{role.value}\t{department or '-'}\t"
            f"{keys.create(role, department, label='demo').token}"
            for role, department in DEMO_KEY_HOLDERS
        ]
    finally:
        keys.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# role\tdepartment\tbearer token (demo only)\n" + "\n".join(lines) + "\n")


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1 - OFF_HOURS_RATE:
        raise argparse.ArgumentTypeError(f"must be within [0, {1 - OFF_HOURS_RATE}]")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the ``govledger`` command line."""
    p = subparsers.add_parser(
        "demo", help=f"load a deterministic demo year ({DEMO_YEAR}) of the zone into a fresh ledger"
    )
    p.add_argument(
        "--accesses",
        type=argtypes.count,
        default=DEFAULT_ACCESSES,
        help=f"data accesses to report (default {DEFAULT_ACCESSES:,})",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same ledger facts")
    p.add_argument(
        "--violation-rate",
        type=_rate,
        default=DEFAULT_VIOLATION_RATE,
        help=f"share of accesses planted as violations (default {DEFAULT_VIOLATION_RATE})",
    )
    p.add_argument(
        "--requests",
        type=argtypes.count,
        default=REQUESTS,
        help=f"sharing requests over the year (default {REQUESTS:,})",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--if-empty", action="store_true", help="do nothing (exit 0) if the ledger has events"
    )
    p.add_argument("--tokens", help="also mint one demo API key per role into this file (0600)")
    p.set_defaults(func=cmd_demo)
