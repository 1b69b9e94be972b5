#!/usr/bin/env python3
"""Builds the labelled relevance set of tests/relevance.rs: corpus.jsonl and queries.json.

Deterministic (one seeded random.Random, no clock, no hash order), Python 3.11 stdlib only.
Run from anywhere:  python3 tests/relevance/make_corpus.py
The output is committed; re-running it must give byte-identical files, so group ids are stable.

Relevance labels are derived from the corpus with fixed substring rules, never from what the
engine returns:
  * a name is folded like the engine folds text (traditional -> simplified for the characters
    used here, full-width -> half-width, lower case) and, for Latin queries, stripped of spaces;
  * plain / infix / traditional / pinyin / initials / latin: the folded name contains the
    target word (for pinyin and initials the target is the Chinese word the letters stand for;
    homophones written with other characters are not relevant);
  * multi_word: the folded name contains every word;
  * place_interest: the group is located inside the place (adcode prefix of every gazetteer
    entry the place name resolves to, as the service resolves it) and its name contains the
    interest word; descriptions never count;
  * a "category" param further restricts to that category;
  * empty: nothing is relevant, and the corpus is checked to contain none of the words.
"""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SEED = 20240601

# ---------------------------------------------------------------------------------------------
# Text folding (mirrors src/index/text.rs::normalize for the characters used in this corpus).
# ---------------------------------------------------------------------------------------------

# Traditional -> simplified, only for characters that appear in the traditional names below.
# Each pair agrees with fast2s (the crate the engine uses); make_corpus checks nothing else in
# the corpus is a traditional form.
T2S = {
    "戶": "户", "遠": "远", "攝": "摄", "愛": "爱", "讀": "读", "書": "书", "會": "会",
    "峽": "峡", "兩": "两", "週": "周", "釣": "钓", "魚": "鱼", "樂": "乐", "開": "开",
    "車": "车", "隊": "队", "妝": "妆", "護": "护", "膚": "肤", "親": "亲", "營": "营",
    "團": "团", "寵": "宠", "貓": "猫", "聯": "联", "騎": "骑", "農": "农", "業": "业",
    "銀": "银", "動": "动", "遊": "游", "戲": "戏", "籃": "篮", "約": "约", "戰": "战",
    "轉": "转", "讓": "让", "語": "语", "麥": "麦", "廣": "广", "東": "东", "門": "门",
    "學": "学", "習": "习", "華": "华", "灣": "湾", "鄉": "乡", "場": "场", "驗": "验",
}


def fold(text: str) -> str:
    out = []
    for c in text:
        c = T2S.get(c, c)
        if c == "\u3000":
            c = " "
        elif 0xFF01 <= ord(c) <= 0xFF5E:
            c = chr(ord(c) - 0xFEE0)
        low = c.lower()
        out.append(low if len(low) == 1 else c)
    return "".join(out)


def fold_compact(text: str) -> str:
    return "".join(fold(text).split())


# ---------------------------------------------------------------------------------------------
# The gazetteer (mirrors src/geo.rs: short names, resolve, locate, adcode prefixes).
# ---------------------------------------------------------------------------------------------

SUFFIXES = ["特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县",
            "地区", "林区", "新区", "省", "市", "区", "县", "盟", "旗"]
PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def short_name(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def level_of(adcode: int) -> int:
    if adcode % 10_000_000_000 == 0:
        return 0
    if adcode % 100_000_000 == 0:
        return 1
    return 2


def prefix_of(adcode: int) -> tuple[int, int]:
    div = [10_000_000_000, 100_000_000, 1_000_000][level_of(adcode)]
    return adcode // div, div


def haversine_m(lat1, lon1, lat2, lon2) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


class Gazetteer:
    def __init__(self, path: Path):
        self.places = {}
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    lon, lat = float(row["longitude"]), float(row["latitude"])
                except ValueError:
                    lon = lat = None
                self.places[int(row["adcode"])] = (row["name"], lat, lon)
        self.by_name: dict[str, list[int]] = {}
        for code in sorted(self.places):
            name = self.places[code][0]
            if name in PLACEHOLDERS:
                continue
            self.by_name.setdefault(name, []).append(code)
            if short_name(name) != name:
                self.by_name.setdefault(short_name(name), []).append(code)
        with_children = {c // 100_000_000 for c in self.places if level_of(c) == 2}
        self.entries = [
            c for c, (name, lat, lon) in self.places.items()
            if lat is not None and name not in PLACEHOLDERS
            and (level_of(c) == 2 or (level_of(c) == 1 and c // 100_000_000 not in with_children))
        ]

    def resolve(self, name: str) -> list[tuple[int, int]]:
        codes = self.by_name.get(name) or self.by_name.get(short_name(name)) or []
        return [prefix_of(c) for c in codes]

    def locate(self, lat: float, lon: float) -> int:
        best = min(self.entries, key=lambda c: (haversine_m(lat, lon, self.places[c][1], self.places[c][2]), c))
        return best


def inside(adcode: int, prefixes: list[tuple[int, int]]) -> bool:
    return any(adcode // div == p for p, div in prefixes)


# ---------------------------------------------------------------------------------------------
# Places: (adcode, city as written in names, neighbourhoods used as place_name).
# ---------------------------------------------------------------------------------------------

PLACES = [
    (110108000000, "北京", ["五道口", "中关村", "上地", "西二旗", "万柳"], 6),
    (110105000000, "北京", ["望京", "三里屯", "国贸", "双井", "亚运村"], 6),
    (110101000000, "北京", ["王府井", "东直门", "南锣鼓巷"], 2),
    (110102000000, "北京", ["西单", "金融街", "什刹海"], 2),
    (110106000000, "北京", ["丽泽", "方庄", "科技园"], 2),
    (110114000000, "北京", ["回龙观", "天通苑", "沙河"], 2),
    (310115000000, "上海", ["陆家嘴", "张江", "世纪公园", "金桥"], 5),
    (310104000000, "上海", ["徐家汇", "漕河泾", "衡山路"], 3),
    (310106000000, "上海", ["静安寺", "大宁", "南京西路"], 3),
    (310112000000, "上海", ["莘庄", "七宝", "虹桥"], 2),
    (440106000000, "广州", ["珠江新城", "体育西", "岗顶"], 4),
    (440104000000, "广州", ["北京路", "东山口"], 2),
    (440113000000, "广州", ["市桥", "大学城"], 2),
    (440305000000, "深圳", ["科技园", "蛇口", "后海", "西丽"], 4),
    (440304000000, "深圳", ["车公庙", "华强北", "香蜜湖"], 3),
    (440306000000, "深圳", ["西乡", "福永"], 2),
    (330106000000, "杭州", ["黄龙", "文三路", "龙井", "转塘"], 4),
    (330110000000, "杭州", ["未来科技城", "良渚", "临平"], 3),
    (330108000000, "杭州", ["江南大道", "奥体"], 2),
    (510107000000, "成都", ["玉林", "桐梓林", "红牌楼"], 3),
    (510104000000, "成都", ["春熙路", "太古里"], 3),
    (510108000000, "成都", ["建设路", "熊猫基地"], 2),
    (420106000000, "武汉", ["街道口", "东湖"], 2),
    (420111000000, "武汉", ["光谷", "关山"], 2),
    (420103000000, "武汉", ["江汉路", "西北湖"], 2),
    (320106000000, "南京", ["湖南路", "龙江"], 2),
    (320102000000, "南京", ["新街口", "玄武湖"], 2),
    (610113000000, "西安", ["小寨", "大雁塔", "曲江"], 2),
    (610103000000, "西安", ["钟楼", "南门"], 1),
    (500103000000, "重庆", ["解放碑", "观音岩"], 2),
    (500105000000, "重庆", ["观音桥", "北滨路"], 2),
    (120104000000, "天津", ["鞍山西道", "水上公园"], 2),
    (320508000000, "苏州", ["平江路", "观前街"], 2),
    (430104000000, "长沙", ["麓谷", "梅溪湖"], 2),
    (350203000000, "厦门", ["中山路", "曾厝垵", "鼓浪屿"], 2),
    (370212000000, "青岛", ["石老人", "沙子口"], 1),
    (410105000000, "郑州", ["花园路", "经三路"], 2),
    (530102000000, "昆明", ["翠湖", "篆新"], 1),
    (532901000000, "大理", ["古城", "才村"], 1),
    (460203000000, "三亚", ["大东海", "亚龙湾"], 1),
    (230103000000, "哈尔滨", ["秋林", "学府路"], 1),
    (441900000000, "东莞", ["南城", "松山湖"], 1),
]

# ---------------------------------------------------------------------------------------------
# Name patterns per category. {d}: district short name, {c}: city, {n}: a digit 1-9.
# A pattern without placeholders is used at most once.
# ---------------------------------------------------------------------------------------------

PATTERNS = {
    "local": [
        "{d}同城生活圈", "{d}业主交流群", "{c}租房信息群", "{d}租房转租群", "{c}拼车上下班群",
        "{d}便民信息群", "{c}同城招聘求职", "{d}邻居互助群", "{d}吃喝玩乐群", "{c}本地生活分享",
        "{d}新市民交流群", "{c}同城{n}群", "【{d}】同城互助", "{d}小区团购群", "{c}周末去哪儿",
        "{d}街坊邻里群", "{c}同城活动发布", "{d}同城宠物互助", "{c}下班后约饭", "{d}家政服务信息",
    ],
    "outdoor": [
        "{d}户外徒步群", "{c}户外俱乐部", "{d}徒步登山队", "{c}周末徒步{n}群", "{d}露营爱好者",
        "{c}精致露营交流", "{c}户外露营装备分享", "{d}骑行团", "{c}夜骑小分队", "{c}骑行俱乐部{n}群",
        "{d}钓鱼群", "{c}路亚钓鱼交流", "{c}野钓俱乐部", "{c}攀岩同好会", "{c}溯溪徒步队",
        "{c}登山爱好者", "{d}爬山群", "{c}户外徒步·周末出发", "【{c}】户外活动召集", "{c}桨板露营",
        "{c}滑雪小分队", "{c}户外探险联盟", "{c}城市漫步群", "{c}重装徒步交流", "{c}越野跑俱乐部",
        "{c}户外运动爱好者🏕", "{d}户外{n}群", "{c}徒步穿越小分队！",
    ],
    "sports": [
        "{d}羽毛球群", "{d}羽毛球约球{n}群", "{c}羽毛球俱乐部", "{d}篮球约战群", "{c}野球篮球群",
        "{d}足球队", "{c}业余足球联赛", "{d}乒乓球爱好者", "{c}网球约球", "{d}健身打卡群",
        "{c}撸铁健身交流", "{d}瑜伽小组", "{c}夜跑团", "{d}跑步打卡", "{c}马拉松跑团",
        "{c}游泳爱好者", "{d}飞盘局", "{c}飞盘俱乐部", "{c}陆冲滑板群", "{d}减脂健身营",
        "{c}普拉提交流", "{d}广场舞队", "{c}跳绳打卡群", "{c}匹克球约球", "{d}搏击训练营",
        "{c}CrossFit训练营", "{c}NBA球迷群", "{d}晨跑群", "{c}羽毛球{n}群🏸",
    ],
    "gaming": [
        "王者荣耀开黑群", "王者荣耀上分{n}群", "{c}王者荣耀战队", "和平精英吃鸡小队", "和平精英四排开黑",
        "原神交流群", "原神萌新互助", "英雄联盟开黑", "LOL上分车队", "{c}电竞俱乐部",
        "手游开黑{n}群", "Switch玩家俱乐部", "Steam游戏交流", "我的世界建筑群", "永劫无间组队",
        "金铲铲之战交流", "蛋仔派对组队", "{c}网吧开黑", "{d}电竞酒店开黑", "王者五排上分",
        "吃鸡开黑{n}群", "PS5玩家交流", "{c}游戏搭子", "第五人格上分", "崩坏星穹铁道交流",
        "游戏陪玩交流", "炉石传说天梯", "{c}开黑上分群", "{c}英雄联盟战队", "{c}桌游开黑",
    ],
    "parenting": [
        "{d}宝妈交流群", "{d}宝妈育儿{n}群", "{c}辣妈帮", "{d}遛娃群", "{c}亲子游",
        "{d}亲子活动群", "{c}早教交流", "{d}幼儿园家长群", "{c}二胎妈妈群", "{c}备孕交流",
        "{c}孕妈互助群", "{d}宝妈二手闲置", "{c}母婴好物分享", "{d}小学家长互助", "{c}全职妈妈群",
        "{c}爸爸带娃群", "{d}绘本阅读亲子", "{c}儿童编程家长群", "{c}宝宝辅食交流", "{d}宝妈{n}群",
    ],
    "beauty": [
        "美妆交流群", "{c}美妆种草", "{c}穿搭分享", "{d}美甲美睫", "{c}汉服同袍",
        "{c}护肤心得交流", "学生党美妆{n}群", "{c}彩妆爱好者", "JK制服同好会", "{c}JK穿搭",
        "lolita小裙子交流", "{c}减脂塑形打卡", "平价美妆好物", "{c}发型设计交流", "男士护肤交流",
        "{c}美妆博主互助", "{c}古风妆造", "{c}穿搭博主", "美妆试色分享{n}群", "{d}美妆穿搭",
    ],
    "pets": [
        "{c}柯基俱乐部", "柯基家长群", "{c}铲屎官联盟", "{d}铲屎官交流群", "{c}猫咪领养",
        "{d}养猫交流", "{c}布偶猫之家", "{c}金毛爱好者", "{d}狗狗遛弯群", "{c}萌宠乐园",
        "{c}宠物医院推荐", "{c}流浪猫救助", "{c}水族爱好者", "{c}仓鼠交流", "{c}柴犬柯基联盟",
        "{c}爬宠交流", "{d}撸猫群", "{c}宠物寄养互助", "{c}边牧训练营", "{d}柯基{n}群",
    ],
    "study": [
        "{c}考公上岸群", "{c}考公互助{n}群", "考研英语打卡", "{c}考研交流群", "{c}考编上岸",
        "{c}教资备考", "雅思口语练习", "托福备考交流", "四六级刷题群", "{c}法考备考",
        "CPA备考互助", "{c}银行考试备考", "{d}自习室打卡", "{c}日语学习小组", "{c}英语角",
        "{c}考研政治", "{c}在职考研", "{c}专升本交流", "{c}成人高考", "{c}考研数学答疑",
        "{c}公务员面试", "{c}考研{n}群",
    ],
    "reading": [
        "{c}读书会", "{d}读书会", "{c}书友会", "{c}读书分享群", "{c}阅读打卡{n}群",
        "诗词爱好者", "{c}写作交流", "网文作者交流群", "推理小说同好", "红楼梦读书会",
        "{c}夜读群", "{c}绘本共读", "{c}经典共读", "科幻小说书友", "{c}图书漂流",
        "{c}读书打卡营", "{c}哲学读书会", "金庸武侠书友", "{d}读书{n}群",
    ],
    "secondhand": [
        "{d}二手闲置群", "{c}闲置转让", "{c}二手交易{n}群", "{d}跳蚤市场", "{c}二手书交换",
        "{c}母婴闲置", "{c}二手数码", "{c}闲置家具转让", "{c}二手手机交易", "{d}搬家清仓",
        "{c}闲置互换", "{c}二手自行车", "{c}以物换物", "{c}毕业季闲置", "{d}闲置{n}群",
    ],
    "fans": [
        "周杰伦粉丝团", "{c}周杰伦歌迷会", "五月天粉丝团", "五月天{c}应援", "薛之谦粉丝群",
        "林俊杰歌迷会", "陈奕迅粉丝{n}群", "{c}追星女孩", "{c}演唱会拼车", "{c}应援物料交流",
        "时代少年团粉丝团", "{c}追星互助", "内娱追星群", "韩娱追星交流", "{c}后援会",
        "{c}粉丝团线下活动",
    ],
    "shopping": [
        "好物分享群", "{c}好物推荐", "{c}团购群", "{d}社区团购", "{c}种草拔草",
        "好物带货交流", "{c}优惠券分享", "薅羊毛省钱群", "{c}拼单群", "{c}零食团购",
        "{c}直播带货交流", "{c}折扣情报", "{c}代购交流", "{c}海淘交流", "{d}好物{n}群",
    ],
    "music": [
        "{c}K歌群", "{d}K歌小分队", "周末K歌{n}群", "{c}吉他爱好者", "吉他入门交流",
        "{c}钢琴交流", "尤克里里同好会", "{c}乐队招募", "{c}说唱圈", "{c}民谣聚会",
        "{c}音乐节拼车", "{c}合唱团", "{c}古筝交流", "{c}KTV麦霸", "{c}架子鼓交流",
        "{c}唱歌练声群", "{c}电音爱好者", "{c}音乐人交流",
    ],
    "food": [
        "{c}美食群", "{d}美食探店", "{c}吃货联盟", "{c}火锅爱好者", "{d}火锅约饭",
        "{c}烘焙交流", "{c}奶茶控", "{c}咖啡爱好者", "{c}烧烤约起", "{c}小龙虾群",
        "{c}素食交流", "{d}美食打卡{n}群", "{c}探店达人", "{c}家常菜交流", "{c}夜宵群",
        "{c}早茶群", "{c}私房菜", "{d}吃货{n}群",
    ],
    "travel": [
        "{c}旅行结伴", "{c}旅游交流", "{c}自驾游群", "{c}穷游联盟", "川西自驾游",
        "西藏旅行结伴", "云南旅游攻略", "{c}出境游交流", "{c}周边游", "{c}签证互助",
        "{c}旅行搭子", "{c}海岛游", "新疆自驾游", "{c}亲子旅行", "{c}背包客",
        "{c}房车旅行", "{c}旅行摄影", "{c}自驾游{n}群",
    ],
    "photography": [
        "{c}摄影群", "{c}摄影爱好者", "{d}约拍群", "{c}人像约拍", "{c}风光摄影",
        "{c}无人机航拍", "{c}胶片摄影", "手机摄影交流", "佳能用户群", "尼康摄影俱乐部",
        "索尼微单交流", "{c}街拍", "{c}COS约拍", "{c}摄影{n}群", "{c}婚纱摄影交流",
        "{c}星空摄影", "{c}摄影后期交流",
    ],
    "cars": [
        "{c}车友会", "{c}车友群", "{c}自驾俱乐部", "{c}新能源车主", "特斯拉车主{c}群",
        "{c}比亚迪车友会", "{c}理想车主群", "蔚来车友会", "{c}改装车交流", "{c}越野车俱乐部",
        "{c}摩托车友会", "{c}新手司机交流", "{c}汽车保养", "{c}二手车交易", "{c}洗车美容",
        "{c}车友{n}群",
    ],
    "tech": [
        "数码发烧友", "{c}数码交流", "{c}科技爱好者", "AI绘画交流群", "{c}AI创业",
        "ChatGPT使用交流", "AIGC创作者", "iPhone15用户群", "iPhone15 Pro交流", "{c}华为用户群",
        "小米数码俱乐部", "{c}程序员交流", "{c}前端开发", "Python编程交流", "{c}极客聚会",
        "{c}智能家居", "{c}机械键盘", "{c}耳机发烧友", "鸿蒙开发者交流", "{c}科技创业者",
    ],
    "friends": [
        "{c}交友群", "{c}同城交友", "{c}脱单群", "{c}相亲交流", "{c}单身{n}群",
        "{c}饭搭子", "{d}周末搭子", "{c}90后交友", "{c}00后交友", "{c}树洞",
        "{c}剧本杀", "{d}剧本杀组局", "{c}狼人杀", "{c}桌游聚会", "{c}桌游{n}群",
        "{c}搭子群", "{c}下班一起玩", "{c}交友聚会", "{d}剧本杀{n}群",
    ],
    "hometown": [
        "湖南老乡在{c}", "{c}四川老乡", "{c}东北老乡群", "{c}潮汕同乡会", "{c}河南老乡会",
        "{c}湖北老乡", "{c}山东老乡", "{c}客家同乡", "{c}江西老乡{n}群", "{c}温州商会",
        "{c}广西老乡", "{c}安徽老乡会", "{c}福建同乡会", "{c}老乡交流",
    ],
    "other": [
        "{c}志愿者", "{c}公益活动", "{c}退休生活", "{c}书法交流", "{c}国学",
        "{c}太极拳", "{c}非遗手作", "{c}心理互助", "{c}失眠互助", "{c}手工DIY",
        "{c}园艺花友", "{c}茶友会", "{c}冥想", "{c}献血志愿者", "{d}志愿服务{n}群",
    ],
}

DESCRIPTIONS = {
    "local": ["本地生活信息互通，租房、拼车、转让都可以发。", "邻里之间互相帮忙，禁止广告。", "分享周边好吃好玩的。"],
    "outdoor": ["周末一起徒步、露营，新手友好，AA制。", "不定期组织登山和骑行，注意安全。", "装备交流，活动报名请看群公告。"],
    "sports": ["约球约跑，水平不限。", "每周固定场地活动，欢迎新人。", "一起运动，一起变强。"],
    "gaming": ["开黑上分，文明游戏。", "组队找队友，禁止挂机。", "萌新大佬都欢迎。"],
    "parenting": ["育儿经验交流，好物分享。", "周末遛娃组队，亲子活动报名。", "宝妈互助，理性讨论。"],
    "beauty": ["分享妆容和穿搭心得。", "护肤好物种草，拒绝微商。", "新手化妆答疑。"],
    "pets": ["铲屎官们交流养宠经验。", "领养代替购买，科学喂养。", "周末约遛狗。"],
    "study": ["每日打卡，互相监督，一起上岸。", "资料分享，答疑解惑。", "备考经验交流。"],
    "reading": ["每月共读一本书，线下分享。", "读书打卡，交流心得。", "好书推荐。"],
    "secondhand": ["闲置物品转让，当面交易。", "二手好物，价格透明。", "禁止发布违禁品。"],
    "fans": ["理智追星，文明应援。", "演唱会信息分享。", "应援活动报名。"],
    "shopping": ["好物种草，优惠信息分享。", "拼单团购，省钱小能手。", "真实测评，拒绝广告。"],
    "music": ["一起唱歌，一起玩音乐。", "乐器入门交流，定期聚会。", "分享喜欢的歌。"],
    "food": ["探店打卡，分享美食。", "吃货聚集地，周末约饭。", "家常菜谱交流。"],
    "travel": ["结伴出行，攻略分享。", "自驾路线交流，拼车出发。", "说走就走的旅行。"],
    "photography": ["作品交流，约拍互勉。", "器材讨论，后期修图交流。", "外拍活动报名。"],
    "cars": ["用车经验交流，周末自驾。", "车友互助，保养心得。", "新车提车分享。"],
    "tech": ["数码产品交流，新品讨论。", "技术分享，互相学习。", "开发者交流，欢迎提问。"],
    "friends": ["真诚交友，拒绝广告。", "周末一起玩，找搭子。", "线下聚会报名。"],
    "hometown": ["老乡互助，常回家看看。", "家乡话交流，逢年过节聚一聚。", "在外打拼，互相照应。"],
    "other": ["欢迎加入，一起做点有意义的事。", "交流心得，互相鼓励。", "活动信息发布。"],
}

# Hand-written names: (name, category, adcode). They carry the infix, homophone, traditional,
# Latin and place + interest cases, and the clusters the multi-word queries need.
SPECIALS = [
    # Long compound names: infix cases.
    ("中国农业发展银行客户交流群", "other", 110102000000),
    ("农业银行信用卡用户群", "shopping", 310115000000),
    ("现代农业技术交流群", "other", 410105000000),
    ("中国农业大学校友会", "other", 110108000000),
    ("智慧农业创业者联盟", "tech", 330110000000),
    ("农业机械二手转让", "secondhand", 410105000000),
    ("生态农业采摘游", "travel", 530102000000),
    ("农业科技园区参观团", "tech", 430104000000),
    ("中国建设银行理财客户群", "other", 110102000000),
    ("招商银行信用卡优惠分享", "shopping", 440304000000),
    ("银行从业者交流群", "other", 310106000000),
    ("国家开发银行校招交流", "study", 110102000000),
    ("北京大学校友羽毛球群", "sports", 110108000000),
    ("清华大学2015级校友会", "other", 110108000000),
    ("浙江大学杭州校友会", "other", 330106000000),
    ("武汉大学樱花摄影群", "photography", 420106000000),
    ("复旦大学校友读书会", "reading", 310104000000),
    ("深圳南山科技园程序员交流", "tech", 440305000000),
    ("荣耀手机用户交流群", "tech", 440304000000),
    ("荣耀Magic6用户群", "tech", 440305000000),
    ("精英律师交流群", "other", 310106000000),
    ("英雄联盟手游开黑", "gaming", 510104000000),
    ("和平精英海岛图攻略", "gaming", 440106000000),
    ("可持续发展公益联盟", "other", 330106000000),
    ("职业发展与跳槽交流", "friends", 310115000000),
    # Homophones: same pinyin as 户外 (huwai) in other characters, and a near one.
    ("沪外校友交流群", "hometown", 310104000000),
    ("沪外附中家长群", "parenting", 310104000000),
    ("东湖外环夜跑团", "sports", 420106000000),
    ("太湖外围钓鱼群", "outdoor", 320508000000),
    ("护卫犬训练交流", "pets", 110114000000),
    ("湖外风光摄影小组", "photography", 320102000000),
    # Traditional characters.
    ("香港戶外遠足群", "outdoor", 440304000000),
    ("戶外攝影愛好者", "photography", 440304000000),
    ("海峽兩岸讀書會", "reading", 350203000000),
    ("週末釣魚俱樂部", "outdoor", 440304000000),
    ("開黑上分車隊", "gaming", 440306000000),
    ("美妝護膚交流", "beauty", 440304000000),
    ("親子露營團", "parenting", 350203000000),
    ("寵物貓咪之家", "pets", 440304000000),
    ("羽毛球愛好者聯盟", "sports", 440304000000),
    ("騎行俱樂部", "outdoor", 350203000000),
    ("農業銀行客戶群", "other", 440304000000),
    ("動漫遊戲同好會", "gaming", 440305000000),
    ("籃球約戰群", "sports", 440306000000),
    ("攝影約拍團", "photography", 440305000000),
    ("讀書會·週末共讀", "reading", 440305000000),
    ("戶外徒步登山隊", "outdoor", 440305000000),
    ("廣東老鄉會", "hometown", 440306000000),
    ("考研英語打卡", "study", 440304000000),
    ("K歌麥霸團", "music", 440306000000),
    ("柯基俱樂部", "pets", 350203000000),
    # Latin letters, digits, full-width letters.
    ("周末K歌群", "music", 110105000000),
    ("K歌之王成都站", "music", 510104000000),
    ("Ｋ歌达人俱乐部", "music", 310106000000),
    ("k歌小分队", "music", 440106000000),
    ("KTV K歌麦霸", "music", 500105000000),
    ("AI创业者联盟", "tech", 110108000000),
    ("AI写作交流", "tech", 330108000000),
    ("AI绘画接单", "tech", 440305000000),
    ("iPhone15 Pro Max交流", "tech", 440304000000),
    ("二手iPhone15交易", "secondhand", 440304000000),
    ("iPhone14二手交易", "secondhand", 310115000000),
    ("二手iPhone回收", "secondhand", 110105000000),
    ("iPhone用户交流", "tech", 310104000000),
    ("王者荣耀5排车队", "gaming", 510107000000),
    ("王者荣耀5排上分群", "gaming", 440106000000),
    ("王者荣耀五排开黑", "gaming", 420111000000),
    ("王者荣耀开黑3群", "gaming", 110108000000),
    ("宝妈交流3群", "parenting", 310115000000),
    ("考研英语3群", "study", 420106000000),
    ("Switch二手交换", "secondhand", 310104000000),
    ("NS Switch联机", "gaming", 440305000000),
    ("cosplay同好会", "beauty", 310106000000),
    ("漫展cos小分队", "beauty", 440106000000),
    ("Python数据分析", "tech", 330108000000),
    ("wifi万能钥匙", "tech", 410105000000),
    # Emoji and punctuation.
    ("【官方】周末徒步群🎉", "outdoor", 110114000000),
    ("！！露营装备团购！！", "shopping", 330106000000),
    ("🐶柯基、柴犬遛弯群", "pets", 110105000000),
    ("🎤K歌爱好者·欢迎你", "music", 320106000000),
    ("【限时】美妆好物秒杀", "shopping", 310106000000),
    ("上分！上分！王者荣耀", "gaming", 610113000000),
    ("考公上岸🎯冲冲冲", "study", 420111000000),
    # Multi-word clusters.
    ("2025考研英语冲刺", "study", 110108000000),
    ("考研英语二交流", "study", 310104000000),
    ("考研英语真题研读", "study", 510107000000),
    ("周末亲子露营俱乐部", "parenting", 110114000000),
    ("杭州亲子露营", "parenting", 330110000000),
    ("零基础吉他入门", "music", 610113000000),
    ("儿童绘画启蒙", "parenting", 310112000000),
    ("宝妈闲置互换群", "secondhand", 440306000000),
    # Place + interest clusters (the name's place agrees with the location).
    ("海淀羽毛球群", "sports", 110108000000),
    ("海淀羽毛球约球2群", "sports", 110108000000),
    ("五道口羽毛球俱乐部", "sports", 110108000000),
    ("中关村羽毛球约球", "sports", 110108000000),
    ("上地周末羽毛球", "sports", 110108000000),
    ("海淀篮球约战群", "sports", 110108000000),
    ("朝阳羽毛球群", "sports", 110105000000),
    ("朝阳飞盘局", "sports", 110105000000),
    ("望京飞盘俱乐部", "sports", 110105000000),
    ("三里屯周末飞盘", "sports", 110105000000),
    ("海淀飞盘局", "sports", 110108000000),
    ("浦东亲子活动群", "parenting", 310115000000),
    ("陆家嘴亲子游", "parenting", 310115000000),
    ("张江亲子露营", "parenting", 310115000000),
    ("西湖徒步群", "outdoor", 330106000000),
    ("龙井山徒步队", "outdoor", 330106000000),
    ("南山篮球约战群", "sports", 440305000000),
    ("科技园篮球群", "sports", 440305000000),
    ("蛇口野球篮球群", "sports", 440305000000),
    ("天河美食群", "food", 440106000000),
    ("天河美食探店", "food", 440106000000),
    ("珠江新城美食打卡", "food", 440106000000),
    ("成都火锅爱好者", "food", 510107000000),
    ("玉林串串火锅约饭", "food", 510107000000),
    ("春熙路火锅探店", "food", 510104000000),
    ("上海剧本杀组局", "friends", 310106000000),
    ("徐汇剧本杀俱乐部", "friends", 310104000000),
    ("良渚露营基地", "outdoor", 330110000000),
    ("北京读书会", "reading", 110101000000),
]

# ---------------------------------------------------------------------------------------------
# Queries. Each: (q, kind, rule) where rule is one of
#   ("name", word)                 the folded name contains word
#   ("all", [words])               the folded name contains every word
#   ("latin", text)                the folded name without spaces contains text
#   ("place", place, word, param)  located in place and the name contains word; with param the
#                                  place goes in the "place" param and q is the word alone
#   ("empty",)                     nothing
# and an optional category restriction.
# ---------------------------------------------------------------------------------------------

QUERIES = [
    # plain words
    ("徒步", "plain", ("name", "徒步")),
    ("露营", "plain", ("name", "露营")),
    ("羽毛球", "plain", ("name", "羽毛球")),
    ("钓鱼", "plain", ("name", "钓鱼")),
    ("读书会", "plain", ("name", "读书会")),
    ("剧本杀", "plain", ("name", "剧本杀")),
    ("开黑", "plain", ("name", "开黑")),
    ("上分", "plain", ("name", "上分")),
    ("考公", "plain", ("name", "考公")),
    ("美妆", "plain", ("name", "美妆")),
    ("柯基", "plain", ("name", "柯基")),
    ("铲屎官", "plain", ("name", "铲屎官")),
    ("宝妈", "plain", ("name", "宝妈")),
    ("骑行", "plain", ("name", "骑行")),
    ("摄影", "plain", ("name", "摄影")),
    ("户外", "plain", ("name", "户外")),
    ("猫", "plain", ("name", "猫")),
    ("火锅", "plain", ("name", "火锅")),
    ("车友会", "plain", ("name", "车友会")),
    ("老乡", "plain", ("name", "老乡")),
    ("二手", "plain", ("name", "二手"), "secondhand"),
    ("闲置", "plain", ("name", "闲置")),
    # infix substrings
    ("农业", "infix", ("name", "农业")),
    ("银行", "infix", ("name", "银行")),
    ("发展", "infix", ("name", "发展")),
    ("大学", "infix", ("name", "大学")),
    ("校友", "infix", ("name", "校友")),
    ("荣耀", "infix", ("name", "荣耀")),
    ("精英", "infix", ("name", "精英")),
    ("狼人", "infix", ("name", "狼人")),
    ("自驾", "infix", ("name", "自驾")),
    ("发展银行", "infix", ("name", "发展银行")),
    ("羽毛", "infix", ("name", "羽毛")),
    ("信用卡", "infix", ("name", "信用卡")),
    ("科技园", "infix", ("name", "科技园")),
    # place + interest
    ("海淀 羽毛球", "place_interest", ("place", "海淀", "羽毛球", False)),
    ("海淀羽毛球", "place_interest", ("place", "海淀", "羽毛球", False)),
    ("羽毛球", "place_interest", ("place", "海淀", "羽毛球", True)),
    ("朝阳 飞盘", "place_interest", ("place", "朝阳", "飞盘", False)),
    ("浦东 亲子", "place_interest", ("place", "浦东", "亲子", False)),
    ("西湖 徒步", "place_interest", ("place", "西湖", "徒步", False)),
    ("南山 篮球", "place_interest", ("place", "南山", "篮球", False)),
    ("天河 美食", "place_interest", ("place", "天河", "美食", False)),
    ("成都 火锅", "place_interest", ("place", "成都", "火锅", False)),
    ("北京 读书会", "place_interest", ("place", "北京", "读书会", False)),
    ("剧本杀", "place_interest", ("place", "上海", "剧本杀", True)),
    ("露营", "place_interest", ("place", "杭州", "露营", True)),
    ("深圳 开黑", "place_interest", ("place", "深圳", "开黑", False)),
    ("武汉 考研", "place_interest", ("place", "武汉", "考研", False)),
    # traditional characters
    ("戶外", "traditional", ("name", "户外")),
    ("讀書會", "traditional", ("name", "读书会")),
    ("釣魚", "traditional", ("name", "钓鱼")),
    ("攝影", "traditional", ("name", "摄影")),
    ("開黑", "traditional", ("name", "开黑")),
    ("美妝", "traditional", ("name", "美妆")),
    ("親子", "traditional", ("name", "亲子")),
    ("農業銀行", "traditional", ("name", "农业银行")),
    ("露營", "traditional", ("name", "露营")),
    ("騎行", "traditional", ("name", "骑行")),
    ("籃球", "traditional", ("name", "篮球")),
    ("貓咪", "traditional", ("name", "猫咪")),
    # pinyin
    ("huwai", "pinyin", ("name", "户外")),
    ("tubu", "pinyin", ("name", "徒步")),
    ("luying", "pinyin", ("name", "露营")),
    ("yumaoqiu", "pinyin", ("name", "羽毛球")),
    ("diaoyu", "pinyin", ("name", "钓鱼")),
    ("kaihei", "pinyin", ("name", "开黑")),
    ("meizhuang", "pinyin", ("name", "美妆")),
    ("sheying", "pinyin", ("name", "摄影")),
    ("wangzherongyao", "pinyin", ("name", "王者荣耀")),
    ("jubensha", "pinyin", ("name", "剧本杀")),
    ("yinhang", "pinyin", ("name", "银行")),
    ("huwaitubu", "pinyin", ("name", "户外徒步")),
    ("hu wai", "pinyin", ("name", "户外")),
    # initials
    ("wzry", "initials", ("name", "王者荣耀")),
    ("jbs", "initials", ("name", "剧本杀")),
    ("lrs", "initials", ("name", "狼人杀")),
    ("ymq", "initials", ("name", "羽毛球")),
    ("csg", "initials", ("name", "铲屎官")),
    ("zjy", "initials", ("name", "自驾游")),
    ("hwtb", "initials", ("name", "户外徒步")),
    ("hpjy", "initials", ("name", "和平精英")),
    # mixed Latin
    ("K歌", "latin", ("latin", "k歌")),
    ("k歌", "latin", ("latin", "k歌")),
    ("AI", "latin", ("latin", "ai")),
    ("iPhone15", "latin", ("latin", "iphone15")),
    ("iphone 15", "latin", ("latin", "iphone15")),
    ("王者荣耀5排", "latin", ("latin", "王者荣耀5排")),
    ("3群", "latin", ("latin", "3群")),
    ("switch", "latin", ("latin", "switch")),
    ("cos", "latin", ("latin", "cos")),
    ("python", "latin", ("latin", "python")),
    ("JK", "latin", ("latin", "jk")),
    # several words
    ("考研 英语", "multi_word", ("all", ["考研", "英语"])),
    ("亲子 露营", "multi_word", ("all", ["亲子", "露营"])),
    ("周末 徒步", "multi_word", ("all", ["周末", "徒步"])),
    ("二手 iPhone", "multi_word", ("all", ["二手", "iphone"])),
    ("AI 绘画", "multi_word", ("all", ["ai", "绘画"])),
    ("吉他 入门", "multi_word", ("all", ["吉他", "入门"])),
    ("王者荣耀 开黑", "multi_word", ("all", ["王者荣耀", "开黑"])),
    ("宝妈 闲置", "multi_word", ("all", ["宝妈", "闲置"])),
    ("羽毛球 俱乐部", "multi_word", ("all", ["羽毛球", "俱乐部"])),
    # must return nothing
    ("量子纠缠研究", "empty", ("empty",)),
    ("核聚变反应堆", "empty", ("empty",)),
    ("甲骨文破译", "empty", ("empty",)),
    ("粒子对撞机", "empty", ("empty",)),
    ("火星殖民地", "empty", ("empty",)),
    ("xyzzy", "empty", ("empty",)),
    ("qqxxzz", "empty", ("empty",)),
]

# Words the "empty" queries are made of; none may occur anywhere in the corpus text.
EMPTY_WORDS = ["量子", "纠缠", "研究", "核聚变", "聚变", "反应堆", "反应", "甲骨", "甲骨文", "破译",
               "粒子", "对撞", "撞机", "火星", "殖民", "xyzzy", "qqxxzz"]


def main() -> None:
    rng = random.Random(SEED)
    gaz = Gazetteer(ROOT / "data" / "adcodes.csv")
    categories = [line.split()[0] for line in (ROOT / "data" / "categories").read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.startswith("#")]
    assert sorted(categories) == sorted(PATTERNS), "one pattern list per category"
    labels = {line.split()[0]: line.split()[1] for line in (ROOT / "data" / "categories").read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}

    place_of = {p[0]: p for p in PLACES}
    weights = [p[3] for p in PLACES]

    def point(adcode: int) -> tuple[float, float]:
        _, lat, lon = gaz.places[adcode]
        jlat, jlon = lat + rng.uniform(-0.004, 0.004), lon + rng.uniform(-0.004, 0.004)
        if gaz.locate(jlat, jlon) == adcode:
            return round(jlat, 6), round(jlon, 6)
        assert gaz.locate(lat, lon) == adcode, adcode
        return lat, lon

    users = []
    for uid in range(1, 31):
        users.append({"type": "user", "id": uid, "nickname": f"群主{uid:02d}", "gender": ["female", "male"][uid % 2],
                      "birth_year": 1970 + uid, "tier": "creator"})

    groups = []  # dicts with the import fields plus "_adcode"
    seen: set[str] = set()

    def add(name: str, category: str, adcode: int) -> None:
        assert 2 <= len(name) <= 30, name
        assert name not in seen, name
        seen.add(name)
        _, city, hoods, _ = place_of[adcode]
        lat, lon = point(adcode)
        desc = rng.choice(DESCRIPTIONS[category])
        if rng.random() < 0.4:
            desc = f"坐标{short_name(gaz.places[adcode][0])}。" + desc
        gid = len(groups) + 1
        day = 1 + (gid * 7) % 28
        month = 1 + (gid * 5) % 12
        line = {
            "type": "group", "id": gid, "owner_id": 1 + (gid * 11) % len(users), "name": name,
            "category": category, "description": desc,
            "location": {"lat": lat, "lon": lon, "place_name": rng.choice(hoods)},
            "join_approval": rng.random() < 0.3,
            "created_at": f"2024-{month:02d}-{day:02d}T{8 + gid % 12:02d}:00:00+08:00",
        }
        groups.append((line, adcode))

    for name, category, adcode in SPECIALS:
        add(name, category, adcode)

    per_category = 50
    for category in sorted(PATTERNS):
        made = 0
        attempts = 0
        while made < per_category:
            attempts += 1
            assert attempts < 10_000, category
            pattern = rng.choice(PATTERNS[category])
            place = rng.choices(PLACES, weights=weights)[0]
            adcode = place[0]
            name = pattern.format(d=short_name(gaz.places[adcode][0]), c=place[1], n=rng.randint(1, 9))
            if name in seen:
                continue
            add(name, category, adcode)
            made += 1

    # Interleave, so ids do not follow categories: a fixed shuffle, then renumber.
    order = list(range(len(groups)))
    rng.shuffle(order)
    corpus = []
    for new_id, i in enumerate(order, start=1):
        line, adcode = groups[i]
        line = dict(line, id=new_id, owner_id=1 + (new_id * 11) % len(users))
        corpus.append((line, adcode))

    # The empty queries must find no word of theirs anywhere.
    texts = [labels[c] for c in labels] + [gaz.places[p[0]][0] for p in PLACES]
    for line, _ in corpus:
        texts += [fold(line["name"]), line["description"], line["location"]["place_name"]]
    for w in EMPTY_WORDS:
        assert not any(w in t for t in texts), w

    def relevant(rule, category) -> list[int]:
        out = []
        for line, adcode in corpus:
            name = fold(line["name"])
            kind = rule[0]
            if kind == "name":
                ok = rule[1] in name
            elif kind == "all":
                ok = all(w in name for w in rule[1])
            elif kind == "latin":
                ok = rule[1] in fold_compact(line["name"])
            elif kind == "place":
                prefixes = gaz.resolve(rule[1])
                assert prefixes, rule
                ok = inside(adcode, prefixes) and rule[2] in name
            else:
                ok = False
            if ok and category is not None:
                ok = line["category"] == category
            if ok:
                out.append(line["id"])
        return out

    queries = []
    for entry in QUERIES:
        q, kind, rule = entry[:3]
        category = entry[3] if len(entry) > 3 else None
        item = {"q": q, "kind": kind}
        if rule[0] == "place" and rule[3]:
            item["place"] = rule[1]
        if category is not None:
            item["category"] = category
        item["relevant"] = relevant(rule, category)
        if kind == "empty":
            assert item["relevant"] == []
        else:
            assert item["relevant"], q
        queries.append(item)

    assert len(corpus) >= 1000 and len(queries) >= 80
    with (HERE / "corpus.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for u in users:
            f.write(json.dumps(u, ensure_ascii=False) + "\n")
        for line, _ in corpus:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    with (HERE / "queries.json").open("w", encoding="utf-8", newline="\n") as f:
        f.write("[\n")
        f.write(",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in queries))
        f.write("\n]\n")
    print(f"{len(corpus)} groups, {len(users)} users, {len(queries)} queries")


if __name__ == "__main__":
    main()
