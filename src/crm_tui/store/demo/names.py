"""The demo's realistic pools: Chinese and Latin people and companies, places, phones, emails,
what reps write and say, and the demo team itself.

Each pooled name carries its search tokens, duplicate key and an email local part, computed
once per name rather than once per customer (DESIGN §11: pinyin costs 51 µs a name).
"""

from __future__ import annotations

import random

from crm_tui.store import validate
from crm_tui.store.search.sort_key import name_sort_key
from crm_tui.store.search.tokens import full_pinyin, text_tokens

CN_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "单解仇区查盖乐朴"
)
CN_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红志文辉鹏飞宇浩然欣怡子涵梓轩晨雨思佳"
    "博文雪梅海燕俊杰晓东春晖凯丹宁琳颖慧婷倩雯瑶嘉鑫彤蕾洁琪斌亮健成龙峰波晶瑞昊天翔"
)
LATIN_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Emma", "Olivia", "Noah", "Liam", "Sophia", "Lucas", "Mia", "Hugo", "Chloe", "Léa", "Zoë", "Jürgen", "Søren", "Ana", "María", "José", "Pierre", "Marie", "Hans", "Greta", "Luca", "Giulia", "Kenji", "Yuki", "Priya", "Arjun", "Fatima", "Omar", "Ivan", "Olga", "Chen", "Wei"]
LATIN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Müller", "Schmidt", "Dubois", "Lefèvre", "Rossi", "Bianchi", "Tanaka", "Sato", "Kowalski", "Novak", "Andersson", "Nielsen", "O'Brien", "McCarthy", "Nguyen", "Kim", "Park", "Patel", "Singh", "Silva", "Santos", "Fernández", "Ivanov", "Wong", "Chan", "Lam"]
LATIN_MIDDLE = ("",) * 4 + tuple(f"{letter}. " for letter in "ABCDEFGHJKLMNPRSTW")
CN_BRANDS = ["恒信", "华泰", "金达", "鼎盛", "宏远", "瑞丰", "嘉禾", "博远", "天成", "中科", "新域", "汇通", "永安", "长城", "东方", "星辰", "云帆", "海纳", "锦程", "卓越", "荣华", "盛世", "同创", "德润", "启明", "万象", "凯旋", "正大", "安和", "百川", "明德", "兴业", "丰源", "华强", "立信", "创维", "远航", "腾达", "众合", "九州", "蓝海", "优品", "智联", "晨光", "合众", "宝丰", "伟业", "广厦", "信达", "泰和", "鸿运"]
CN_INDUSTRY_WORDS = ["科技", "贸易", "实业", "物流", "电子", "建设", "医药", "食品", "教育", "咨询", "信息技术", "机械", "化工", "文化传媒", "餐饮管理", "服饰", "环保", "能源", "网络", "软件", "家居", "汽车服务", "供应链", "生物"]
CN_COMPANY_SUFFIXES = ("有限公司", "股份有限公司", "集团", "工作室", "有限责任公司", "商行")
LATIN_BRANDS = ["Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Acme", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Hooli", "Vandelay", "Wonka", "Oceanic", "Pied", "Piper", "Blue", "Harbor", "Silver", "Peak", "Red", "Rock", "Evergreen", "Golden", "Gate", "Maple", "Leaf", "Lakeside", "Summit", "Horizon", "Pioneer", "Atlas", "Nova", "Zenith", "Aurora", "Polaris", "Crestview", "Ironwood", "Brightside", "Clearwater", "Highland", "Riverside", "Sterling", "Trident"]
LATIN_INDUSTRY_WORDS = ["Logistics", "Trading", "Software", "Foods", "Pharma", "Consulting", "Media", "Energy", "Motors", "Textiles", "Robotics", "Analytics", "Retail", "Capital", "Labs", "Systems", "Design", "Hospitality", "Biotech", "Packaging"]
LATIN_COMPANY_SUFFIXES = ("Ltd", "Inc.", "GmbH", "S.A.", "LLC", "Pte. Ltd.", "Co.", "AG", "B.V.")

INDUSTRIES = (
    "制造业", "零售", "互联网", "教育", "医疗健康", "金融", "房地产", "物流", "餐饮", "能源",
    "Manufacturing", "Software", "Retail", "Healthcare", "Finance", "Logistics",
)
CN_CITIES = (
    "北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "天津", "苏州",
    "长沙", "郑州", "青岛", "厦门", "沈阳", "大连", "合肥", "昆明", "福州", "济南", "宁波", "无锡",
    "哈尔滨", "乌鲁木齐", "拉萨", "香港", "台北",
)
INTL_CITIES = ("Singapore", "Tokyo", "Seoul", "London", "Berlin", "Paris", "New York",
               "San Francisco", "Sydney", "Dubai", "Kuala Lumpur", "Bangkok")
DISTRICTS = ("朝阳区", "海淀区", "浦东新区", "天河区", "南山区", "西湖区", "武侯区", "江汉区",
             "鼓楼区", "高新区", "经开区")
ROADS = ("中山路", "人民路", "解放路", "建设路", "和平路", "长江路", "科技园路", "滨江大道")
SOURCES = ("展会", "官网", "转介绍", "电话营销", "微信", "抖音", "百度推广", "老客户",
           "trade show", "website", "referral", "cold call", "LinkedIn", "partner")
TITLES = ("总经理", "采购经理", "财务总监", "技术总监", "行政主管", "老板", "CEO", "CTO",
          "Purchasing Manager", "Office Manager", "Head of IT", "Founder")
TAGS = ("VIP", "重点客户", "回款慢", "价格敏感", "决策人已见", "需报价", "老客户转介绍",
        "big account", "needs demo", "partner", "slow payer", "follow up in person")
SUMMARIES = (
    "电话沟通，客户对产品感兴趣，需要报价", "拜访客户，演示了新版本", "微信跟进，客户在比较竞品",
    "客户要求下周再联系", "发送了合同草稿", "客户预算还没批下来", "约了下周三上门拜访",
    "客户反馈价格偏高，申请折扣中", "已寄样品，等待试用反馈", "客户暂时没有需求",
    "Called, wants a quote", "Sent the proposal by email", "Demo went well, follow up next week",
    "Met the purchasing manager on site", "No answer, try again", "Asked for references",
    "Negotiating the payment terms", "Budget approved for next quarter",
)
CHANNELS = ("call", "call", "call", "wechat", "wechat", "visit", "email", "meeting", "other")
DEAL_TITLES = ("年度采购", "设备升级", "软件许可", "维保合同", "试点项目", "二期扩容",
               "Annual licence", "Pilot project", "Support contract", "Fleet upgrade")
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "example.com",
                 "sina.com", "foxmail.com", "example.org")
CN_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                      "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176",
                      "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189",
                      "191", "198", "199")
CN_LANDLINES = ("+8610", "+8621", "+8620", "+86755", "+86571", "+8628")
FOREIGN_PHONES = (("+14155550", 3), ("+12125550", 3), ("+44207946", 4), ("+852612", 5),
                  ("+6591", 6), ("+493012", 6), ("+81312", 6))

DEMO_TEAMS = ("east", "north", "south")
DEMO_REPS = (
    ("demo.wangfang", "王芳"), ("demo.lijun", "李军"), ("demo.zhangmin", "张敏"),
    ("demo.liuyang", "刘洋"), ("demo.chenjing", "陈静"), ("demo.yangtao", "杨涛"),
    ("demo.huangli", "黄丽"), ("demo.zhaolei", "赵磊"), ("demo.wujie", "吴杰"),
    ("demo.zhouyan", "周艳"), ("demo.xuqiang", "徐强"), ("demo.sunna", "孙娜"),
    ("demo.zengwei", "曾伟"), ("demo.shanyu", "单宇"), ("demo.xieming", "解明"),
    ("demo.qiuhong", "仇红"), ("demo.ouying", "区颖"), ("demo.guoxin", "郭鑫"),
    ("demo.hemei", "何梅"), ("demo.linfeng", "林峰"), ("demo.luobin", "罗斌"),
    ("demo.zhenghao", "郑浩"), ("demo.songjia", "宋佳"), ("demo.tangning", "唐宁"),
    ("demo.alice", "Alice Martin"), ("demo.bob", "Bob Nguyen"), ("demo.carol", "Carol Smith"),
    ("demo.dave", "Dave Müller"), ("demo.erin", "Erin O'Brien"), ("demo.frank", "Frank Rossi"),
    ("demo.grace", "Grace Tanaka"), ("demo.heidi", "Heidi Andersson"),
)
DEMO_MANAGERS = (
    ("demo.mgr.east", "钱东", "east"), ("demo.mgr.north", "Nora Walker", "north"),
    ("demo.mgr.south", "孔南", "south"),
)


class Named:
    """A pooled name with its tokens, keys and an email local part, computed once."""

    __slots__ = ("name", "tokens", "key", "sort_key", "local")

    def __init__(self, name: str, *, is_name: bool, local: str) -> None:
        self.name = name
        self.tokens = tuple(text_tokens(name, is_name=is_name))
        self.key = validate.name_key(name)
        self.sort_key = name_sort_key(name)
        self.local = local


def name_pools(rng: random.Random, n: int) -> tuple[list[Named], list[Named], list[Named]]:
    """Pools of person names, company names and contact names, sized to stay mostly distinct."""
    people: dict[str, Named] = {}
    surnames = CN_SURNAMES
    while len(people) < max(200, min(n, 100_000)):
        if rng.random() < 0.8:
            surname = rng.choice(surnames)
            given = rng.choice(CN_GIVEN) + (rng.choice(CN_GIVEN) if rng.random() < 0.7 else "")
            name = surname + given
            local = full_pinyin(name)
        else:
            first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
            middle = rng.choice(LATIN_MIDDLE)
            name = f"{first} {middle}{last}"
            local = validate.name_key(f"{first}.{last}").encode("ascii", "ignore").decode()
        if name not in people:
            people[name] = Named(name, is_name=True, local=local or "contact")
    companies: dict[str, Named] = {}
    while len(companies) < max(200, min(n // 2, 50_000)):
        if rng.random() < 0.75:
            city = rng.choice(CN_CITIES)
            brand = rng.choice(CN_BRANDS)
            name = f"{city}{brand}{rng.choice(CN_INDUSTRY_WORDS)}{rng.choice(CN_COMPANY_SUFFIXES)}"
            local = full_pinyin(brand)
        else:
            brand = rng.choice(LATIN_BRANDS)
            name = f"{brand} {rng.choice(LATIN_INDUSTRY_WORDS)} {rng.choice(LATIN_COMPANY_SUFFIXES)}"
            local = brand.lower()
        if name not in companies:
            companies[name] = Named(name, is_name=False, local=local or "info")
    people_list = list(people.values())
    return people_list, list(companies.values()), people_list
