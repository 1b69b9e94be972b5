//! Synthetic world generator: builds a deterministic, realistic-looking population of users, follows, groups, memberships and chat activity for groupscout and writes it as import-format JSON Lines.
//!
//! The world is shaped for three consumers at once: the demo (plausible Chinese names and places),
//! the benchmarks (linear time and memory, about 25 lines per group at most) and the offline
//! recommendation evaluation (people live in cities, have interests and friends, and join groups
//! that match all three, so a recommender has real signal to find).
//!
//! Everything is drawn from one seeded `StdRng`, and every collection that feeds the output is a
//! `Vec` or a `BTreeMap`, so the same `(seed, today, places)` always gives byte-identical output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};

use anyhow::{bail, Result};
use chrono::{Datelike, Duration, NaiveDate};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One district-level place from the gazetteer, with its city name (for a municipality the city is the province name, e.g. 北京市).
#[derive(Debug, Clone)]
pub struct GenPlace {
    pub adcode: u64,        // 12-digit adcode, e.g. 110108000000
    pub district: String,   // full name, e.g. "海淀区"
    pub short: String,      // the name without its suffix (区/县/市/旗), e.g. "海淀"
    pub city: String,       // e.g. "北京市"
    pub city_short: String, // e.g. "北京"
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub groups: usize,
    pub seed: u64,
    pub today: chrono::NaiveDate, /* today in the service timezone */
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub users: u64,
    pub follows: u64,
    pub groups: u64,
    pub members: u64,
    pub activity: u64,
}

/// Generates the whole world for `places` and writes it to `out` as JSON Lines.
pub fn generate_world(places: &[GenPlace], opts: &GenOptions, out: &mut dyn Write) -> Result<GenSummary> {
    generate_with_stats(places, opts, out).map(|(summary, _)| summary)
}

// ---------------------------------------------------------------------------------------------
// Tunables. They are gathered here because they jointly decide the line budget: with about two
// users per group, ~4.5 mutual friends per user and ~9 members per group, users + follows +
// groups + members come to roughly 21 lines per group, which leaves room for ~3 activity lines
// per group under the 25-lines-per-group ceiling that keeps a million groups importable.
// ---------------------------------------------------------------------------------------------

const USERS_PER_GROUP: usize = 2;
const SECS_PER_DAY: i64 = 86_400;
/// Timestamps are kept as seconds since local midnight `BASE_DAYS` before today, so they fit in
/// a `u32` and can be formatted without calendar arithmetic on the hot path.
const BASE_DAYS: i64 = 800;
const HISTORY_DAYS: i64 = 730;
const ACTIVITY_DAYS: i64 = 9;
const MAX_DEGREE: usize = 150;
const NORMAL_CAPACITY: usize = 200;
const CREATOR_CAPACITY: usize = 1000;
const NORMAL_MAX_OWNED: u8 = 4;
const CREATOR_MAX_OWNED: u8 = 20;
/// A user already in this many groups is never added to another one, which keeps the
/// per-user membership count in "a handful" territory even in small cities.
const MAX_MEMBERSHIPS: u16 = 30;
const LINE_BUDGET_PER_GROUP: f64 = 24.5;
const ACTIVITY_TARGET_PER_GROUP: f64 = 3.0;

// ---------------------------------------------------------------------------------------------
// Vocabulary.
// ---------------------------------------------------------------------------------------------

struct Category {
    id: &'static str,
    label: &'static str,
    /// Base popularity as an interest; it also drives the category of groups whose owner does
    /// not pick one of their own interests.
    weight: f64,
    female: f64,
    male: f64,
    /// Name templates: `{c}` city short name, `{d}` district short name, `{l}` a local area or
    /// landmark, `{h}` another city (for hometown groups), `{n}` a small number.
    names: &'static [&'static str],
    /// Short phrases saying what the group does, used to build descriptions.
    about: &'static [&'static str],
}

const CATEGORIES: &[Category] = &[
    Category {
        id: "local",
        label: "同城",
        weight: 12.0,
        female: 1.0,
        male: 1.0,
        names: &[
            "{c}同城交友群",
            "{d}同城生活圈",
            "{d}本地生活交流群",
            "{d}邻里互助群",
            "{l}街坊群",
            "{d}吃喝玩乐群",
            "{c}周末去哪儿",
            "{d}租房信息群",
            "{l}打工人午饭群",
            "{c}新市民交流群",
            "{l}业主交流群",
            "{d}跑腿互助群",
            "{c}{d}同城圈",
        ],
        about: &[
            "分享本地生活资讯、吃喝玩乐和便民信息",
            "邻里之间互帮互助，交流租房、出行和办事经验",
            "认识同城的新朋友，周末一起出去玩",
        ],
    },
    Category {
        id: "outdoor",
        label: "户外",
        weight: 9.0,
        female: 0.9,
        male: 1.1,
        names: &[
            "{d}周末徒步群",
            "{c}户外登山群",
            "{c}露营爱好者",
            "{c}骑行俱乐部",
            "{d}夜骑小分队",
            "{c}溯溪徒步队",
            "{c}飞盘户外群",
            "{l}爬山搭子群",
            "{c}野钓交流群",
            "{c}滑雪约伴群",
            "{c}户外{n}群",
            "{c}重装徒步队",
        ],
        about: &["周末一起徒步爬山、露营骑行", "组织周边户外线路，新手老手都欢迎", "约伴户外活动，安全第一、快乐第二"],
    },
    Category {
        id: "sports",
        label: "运动健身",
        weight: 6.0,
        female: 0.8,
        male: 1.3,
        names: &[
            "{d}羽毛球群",
            "{c}篮球约球群",
            "{l}夜跑团",
            "{d}健身打卡群",
            "{c}瑜伽交流群",
            "{c}野球足球群",
            "{d}游泳爱好者",
            "{c}马拉松跑友群",
            "{d}乒乓球交流群",
            "{c}网球约球群",
            "{c}减脂打卡{n}群",
            "{c}CrossFit训练营",
        ],
        about: &["约球约跑，一起坚持运动", "每天健身打卡，互相监督", "分享训练计划和饮食经验，欢迎运动爱好者"],
    },
    Category {
        id: "gaming",
        label: "游戏",
        weight: 11.0,
        female: 0.6,
        male: 1.8,
        names: &[
            "王者荣耀五排车队",
            "王者荣耀5排上分群",
            "{c}王者荣耀开黑群",
            "和平精英{d}战队",
            "{c}原神交流群",
            "英雄联盟{c}开黑群",
            "{c}LOL五黑车队",
            "蛋仔派对组队群",
            "{c}Switch玩家群",
            "金铲铲之战交流群",
            "{c}剧本杀约局群",
            "{d}狼人杀约局",
            "{c}Steam玩家交流群",
            "永劫无间组队{n}群",
            "第五人格约战群",
            "{d}麻将约局群",
        ],
        about: &["找队友开黑上分，晚上常驻", "交流游戏攻略，组队一起玩", "线下桌游、剧本杀约局，缺人随时喊"],
    },
    Category {
        id: "parenting",
        label: "宝妈育儿",
        weight: 8.0,
        female: 2.0,
        male: 0.3,
        names: &[
            "{d}宝妈互助群",
            "{c}宝妈交流群",
            "{l}宝妈遛娃群",
            "{d}二胎妈妈群",
            "{c}辅食交流群",
            "{d}幼升小家长群",
            "{c}早教分享群",
            "{d}亲子活动群",
            "{c}孕妈交流{n}群",
            "{c}儿童绘本共读",
            "{d}小学家长互助群",
            "{c}宝宝衣物闲置群",
        ],
        about: &["宝妈们交流育儿经验、辅食和早教", "周末组织亲子活动，一起遛娃", "分享学区、幼升小和兴趣班信息"],
    },
    Category {
        id: "beauty",
        label: "美妆穿搭",
        weight: 5.0,
        female: 2.0,
        male: 0.2,
        names: &[
            "{c}美妆交流群",
            "{c}穿搭分享群",
            "{d}护肤心得群",
            "{c}美甲美睫交流",
            "{c}汉服同袍群",
            "{c}小个子穿搭",
            "{c}平价好物种草群",
            "{c}lolita交流群",
            "{c}变美打卡群",
            "{d}发型师推荐群",
        ],
        about: &["分享护肤、彩妆和穿搭心得", "种草平价好物，拒绝智商税", "一起变美，交流美甲、发型和穿搭"],
    },
    Category {
        id: "pets",
        label: "萌宠",
        weight: 5.0,
        female: 1.3,
        male: 0.8,
        names: &[
            "柯基铲屎官联盟",
            "{c}柯基交流群",
            "{c}猫奴俱乐部",
            "{d}养狗人互助群",
            "{c}布偶猫交流群",
            "{c}金毛之家",
            "{l}遛狗搭子群",
            "{c}流浪猫救助群",
            "{c}异宠爱好者",
            "{c}宠物领养群",
            "{c}柴犬家长群",
            "{c}橘猫大军",
        ],
        about: &["铲屎官们交流喂养、洗护和看病经验", "晒猫晒狗，分享靠谱的宠物医院", "组织周末遛狗和领养活动"],
    },
    Category {
        id: "study",
        label: "学习考试",
        weight: 6.0,
        female: 1.1,
        male: 0.9,
        names: &[
            "{c}考公上岸交流群",
            "{c}考研互助群",
            "{c}教资备考群",
            "AI学习交流群",
            "{c}Python学习群",
            "{c}雅思托福备考",
            "{c}四六级冲刺群",
            "{c}考编打卡{n}群",
            "{c}CPA备考群",
            "{l}自习室学习群",
            "{c}法考交流群",
            "{c}日语学习群",
            "{c}英语角",
            "{c}PMP备考交流",
        ],
        about: &["一起备考，每日打卡，互相督促", "分享学习资料和上岸经验", "考试资讯、真题和学习方法交流"],
    },
    Category {
        id: "reading",
        label: "读书",
        weight: 3.0,
        female: 1.2,
        male: 0.8,
        names: &[
            "{c}读书会",
            "{d}读书分享群",
            "{c}共读一本书",
            "{c}悬疑小说爱好者",
            "{c}历史读书群",
            "{c}诗词爱好者",
            "{c}网文书友群",
            "{c}哲学读书会",
            "{c}每月一书共读群",
            "{l}图书馆书友群",
        ],
        about: &[
            "每月共读一本书，线上线下分享读后感",
            "交流读书心得，推荐好书",
            "爱读书的朋友聚在一起，慢慢读、认真聊",
        ],
    },
    Category {
        id: "secondhand",
        label: "二手闲置",
        weight: 5.0,
        female: 1.1,
        male: 0.9,
        names: &[
            "二手闲置转让({l})",
            "{d}二手闲置群",
            "{c}闲置物品交换",
            "{c}二手数码交易群",
            "{l}跳蚤市场",
            "{c}母婴闲置转让",
            "{c}二手书交换群",
            "{d}搬家清仓群",
            "{c}二手家具转让",
            "{c}闲置互换{n}群",
        ],
        about: &["同城闲置转让，当面交易更放心", "发布二手好物，价格实在，拒绝贩子", "搬家清仓、闲置互换，物尽其用"],
    },
    Category {
        id: "fans",
        label: "粉丝团",
        weight: 3.0,
        female: 1.6,
        male: 0.5,
        names: &[
            "{c}追星女孩集合",
            "{c}演唱会搭子群",
            "{c}应援交流群",
            "{c}Kpop追星群",
            "{c}二次元同好群",
            "{c}电竞战队粉丝群",
            "{c}球迷会",
            "{c}国漫粉丝群",
            "{c}周边交换群",
            "{c}追剧交流群",
        ],
        about: &["一起追星、应援，分享最新物料", "演唱会拼车拼房，周边交换", "同好交流，理性追星"],
    },
    Category {
        id: "shopping",
        label: "好物带货",
        weight: 3.0,
        female: 1.5,
        male: 0.6,
        names: &[
            "{c}好物分享群",
            "{c}优惠券福利群",
            "{d}团购群",
            "{d}社区团购{n}群",
            "{c}拼单省钱群",
            "{c}iPhone优惠交流",
            "{c}母婴好物推荐",
            "{c}零食团购群",
            "{c}薅羊毛群",
            "{l}团购接龙群",
            "{c}直播好物分享",
        ],
        about: &["每日分享优惠券和好物，买到就是赚到", "社区团购接龙，新鲜直达", "拼单省钱，分享靠谱好物"],
    },
    Category {
        id: "music",
        label: "音乐",
        weight: 4.0,
        female: 1.0,
        male: 1.0,
        names: &[
            "K歌爱好者",
            "{c}K歌爱好者",
            "{c}吉他交流群",
            "{c}乐队招募群",
            "{c}古典音乐爱好者",
            "{c}民谣爱好者",
            "{c}说唱交流群",
            "{c}钢琴学习群",
            "{d}广场舞交流群",
            "{c}livehouse约伴",
            "{c}业余合唱团",
            "{c}尤克里里交流",
        ],
        about: &["喜欢唱歌和音乐的朋友一起交流", "约K歌、约livehouse，分享好歌", "乐器学习交流，定期线下排练"],
    },
    Category {
        id: "food",
        label: "美食",
        weight: 11.0,
        female: 1.1,
        male: 0.9,
        names: &[
            "{c}美食探店群",
            "{d}吃货联盟",
            "{c}火锅爱好者",
            "{l}美食分享群",
            "{c}烘焙交流群",
            "{c}家常菜交流",
            "{c}咖啡爱好者",
            "{c}深夜食堂",
            "{c}奶茶续命群",
            "{d}干饭人集合",
            "{c}私房菜分享",
            "{c}夜宵搭子群",
        ],
        about: &["探店打卡，分享本地好吃的", "交流家常菜和烘焙心得", "约饭约夜宵，吃遍全城"],
    },
    Category {
        id: "travel",
        label: "旅行",
        weight: 5.0,
        female: 1.1,
        male: 0.9,
        names: &[
            "{c}旅行约伴群",
            "{c}自驾游群",
            "{c}周边游攻略",
            "{c}穷游交流群",
            "{c}出境游交流",
            "{c}自由行拼团",
            "{c}西藏自驾约伴",
            "{c}房车旅行群",
            "{c}citywalk搭子",
            "{c}说走就走旅行团",
        ],
        about: &["约伴出行，分享旅行攻略", "周末周边游、节假日长线游一起走", "交流签证、机票和住宿经验"],
    },
    Category {
        id: "photography",
        label: "摄影",
        weight: 3.0,
        female: 0.9,
        male: 1.1,
        names: &[
            "{c}摄影交流群",
            "{c}约拍群",
            "{c}风光摄影群",
            "{c}手机摄影群",
            "{c}人像摄影交流",
            "{c}胶片摄影爱好者",
            "{c}无人机航拍群",
            "{l}扫街摄影群",
            "{c}星空摄影群",
            "{c}索尼用户群",
        ],
        about: &["交流拍摄技巧和后期修图", "约拍扫街，分享作品", "器材交流，组织外拍活动"],
    },
    Category {
        id: "cars",
        label: "汽车",
        weight: 3.0,
        female: 0.4,
        male: 1.8,
        names: &[
            "{c}车友会",
            "{c}新能源车主群",
            "{c}特斯拉车友群",
            "{c}比亚迪车主交流",
            "{c}自驾车友群",
            "{c}摩托车俱乐部",
            "{c}越野车友会",
            "{c}驾考交流群",
            "{d}拼车群",
            "{c}理想车主群",
            "{c}汽车改装交流",
        ],
        about: &["车友交流用车养车经验", "组织自驾和车友聚会", "分享保养、保险和改装心得"],
    },
    Category {
        id: "tech",
        label: "数码科技",
        weight: 4.0,
        female: 0.6,
        male: 1.6,
        names: &[
            "{c}数码发烧友",
            "{c}iPhone用户群",
            "{c}程序员交流群",
            "{c}AI学习交流群",
            "{c}极客交流群",
            "{c}安卓玩机群",
            "{c}装机交流群",
            "{c}前端开发交流",
            "{c}智能家居交流",
            "{c}创业者交流群",
            "{c}产品经理交流群",
            "{c}ChatGPT交流群",
        ],
        about: &["交流数码产品和新技术", "程序员和技术爱好者的聚集地", "分享AI工具、装机和玩机心得"],
    },
    Category {
        id: "friends",
        label: "交友",
        weight: 14.0,
        female: 1.0,
        male: 1.0,
        names: &[
            "{c}交友群",
            "{c}单身交友群",
            "{c}90后交友群",
            "{c}00后聊天群",
            "{d}交友{n}群",
            "{c}同龄人交友",
            "{c}脱单互助群",
            "{c}周末约饭群",
            "{d}搭子群",
            "{c}夜猫子聊天群",
            "{c}闲聊吹水群",
            "{c}95后交友群",
            "{l}新朋友群",
        ],
        about: &["认识新朋友，聊天交友", "同城交友，周末约饭约玩", "真诚交友，拒绝广告和微商"],
    },
    Category {
        id: "hometown",
        label: "老乡",
        weight: 4.0,
        female: 1.0,
        male: 1.0,
        names: &["{h}老乡群", "{h}老乡在{c}", "{h}人在{c}", "{c}{h}老乡会", "在{c}的{h}人", "{h}同乡会({c})"],
        about: &["在外打拼的老乡互相照应", "老乡聚会、回乡拼车，乡音乡情", "家乡人在这里相聚，互通有无"],
    },
    Category {
        id: "other",
        label: "其他",
        weight: 2.0,
        female: 1.0,
        male: 1.0,
        names: &[
            "{c}闲聊群",
            "{c}打工人摸鱼群",
            "{c}早起打卡群",
            "{c}树洞",
            "{c}副业交流群",
            "{c}理财交流群",
            "{c}志愿者群",
            "{c}公益活动群",
            "{c}心理互助群",
            "{c}养生交流群",
            "{c}手工DIY群",
        ],
        about: &["随便聊聊，分享生活", "志同道合的朋友一起交流", "互相鼓励，一起变得更好"],
    },
];

const DESCRIPTION_TEMPLATES: &[&str] = &[
    "{a}，欢迎{c}的朋友加入。",
    "本群位于{p}，{a}。",
    "{a}。进群请先看群公告，友好交流，禁止广告。",
    "{c}{t}爱好者的聚集地，{a}。",
    "{a}，不定期组织线下活动，期待你的加入！",
    "{a}。",
];

const ANNOUNCEMENTS: &[&str] = &[
    "群内禁止发广告和链接，违者直接移出。",
    "新人进群请修改群昵称：区域-昵称。",
    "本周六上午9点{l}集合，报名的朋友请准时到达。",
    "请大家文明聊天，互相尊重。",
    "群文件里有入门资料，欢迎自取。",
    "有问题请私聊群主或管理员。",
    "活动费用AA，报名请在群里接龙。",
    "禁止刷屏，晚上11点后请勿@全体成员。",
    "本群已满员的话请加{n}群。",
    "每周五晚8点群内分享，欢迎准时参加。",
];

/// Well-known areas of some districts, keyed by the 6-digit prefix of the adcode. Everywhere else
/// the generic landmarks below stand in.
const LANDMARKS: &[(u64, &[&str])] = &[
    (110101, &["王府井", "南锣鼓巷"]),
    (110102, &["西单", "什刹海"]),
    (110105, &["望京", "三里屯", "国贸", "双井"]),
    (110108, &["五道口", "中关村", "西二旗"]),
    (120101, &["五大道", "滨江道"]),
    (310101, &["外滩", "新天地"]),
    (310104, &["徐家汇", "漕河泾"]),
    (310115, &["陆家嘴", "张江", "世纪公园"]),
    (320102, &["新街口", "玄武湖"]),
    (320508, &["平江路", "观前街"]),
    (330106, &["西湖边", "文三路"]),
    (330108, &["滨江", "江南大道"]),
    (420106, &["楚河汉街", "东湖"]),
    (420111, &["光谷", "街道口"]),
    (440104, &["北京路", "东山口"]),
    (440106, &["珠江新城", "天河北", "岗顶"]),
    (440304, &["华强北", "车公庙"]),
    (440305, &["科技园", "深圳湾", "后海"]),
    (500103, &["解放碑", "洪崖洞"]),
    (500105, &["观音桥"]),
    (510104, &["春熙路", "太古里"]),
    (510107, &["玉林路", "武侯祠"]),
    (610113, &["大雁塔", "小寨"]),
];

const GENERIC_LANDMARKS: &[&str] = &[
    "万达广场",
    "中心公园",
    "体育中心",
    "大学城",
    "步行街",
    "人民广场",
    "滨江公园",
    "湖边",
    "老城区",
    "科技园",
    "商业街",
    "市民中心",
    "地铁站",
    "图书馆",
    "万象城",
    "吾悦广场",
    "新城",
    "高铁站",
];

/// Total weight of a city's districts, by adcode prefix: two digits for the municipalities, four
/// for prefecture-level cities. Cities not listed weigh 1, so the big cities dominate without
/// emptying the rest of the country.
const CITY_WEIGHTS: &[(u64, f64)] = &[
    (11, 60.0),
    (31, 60.0),
    (4401, 45.0),
    (4403, 45.0),
    (5101, 35.0),
    (50, 30.0),
    (3301, 30.0),
    (4201, 28.0),
    (6101, 25.0),
    (3201, 25.0),
    (12, 25.0),
    (3205, 25.0),
    (4301, 15.0),
    (4101, 15.0),
    (4419, 14.0),
    (3702, 12.0),
    (3401, 12.0),
    (4406, 12.0),
    (2101, 10.0),
    (3302, 10.0),
    (5301, 10.0),
    (3701, 10.0),
    (3501, 9.0),
    (3502, 9.0),
    (2102, 9.0),
    (2301, 9.0),
    (3202, 9.0),
    (1301, 8.0),
    (4501, 8.0),
    (5201, 8.0),
    (3601, 8.0),
    (1401, 7.0),
    (2201, 7.0),
    (3303, 7.0),
    (4413, 6.0),
    (4420, 6.0),
    (4404, 6.0),
    (6501, 5.0),
    (6201, 5.0),
    (4601, 5.0),
    (1501, 4.0),
    (6301, 3.0),
    (6401, 3.0),
    (5401, 3.0),
];

const NICK_PREFIXES: &[&str] = &["小", "阿", "老", "大"];
const NICK_CHARS: &[&str] = &[
    "鱼", "杰", "雨", "明", "丽", "军", "伟", "芳", "敏", "静", "强", "磊", "洋", "勇", "婷", "宇", "浩", "凯", "琳",
    "萌", "乐", "白", "胖", "七", "九", "虎", "龙", "猫", "兔", "熊", "豆", "米", "橙", "桃", "飞", "华", "峰", "燕",
    "梅", "东",
];
const NICK_WORDS: &[&str] = &[
    "晴天",
    "南风",
    "夏至",
    "半夏",
    "清欢",
    "星辰",
    "山海",
    "白茶",
    "橘子汽水",
    "柠檬不酸",
    "慢慢来",
    "追风少年",
    "一只猫",
    "皮皮虾",
    "咸鱼翻身",
    "大白",
    "可乐加冰",
    "奶茶续命",
    "向日葵",
    "栀子花开",
    "知足常乐",
    "岁月静好",
    "平安喜乐",
    "听风",
    "木子",
    "北方的狼",
    "西瓜太郎",
    "云淡风轻",
    "海阔天空",
    "浅笑",
    "默默",
    "淡定",
    "开心果",
    "糖糖",
    "小确幸",
    "满天星",
    "月亮",
    "微光",
    "初心",
    "故里",
    "远方",
    "流年",
    "薄荷",
    "芒果布丁",
    "草莓味",
    "桃子",
    "兔兔",
    "多肉",
    "阳光",
    "凉白开",
    "一杯茶",
    "打工人",
    "干饭王",
    "夜猫子",
    "早睡早起",
    "小太阳",
    "好运来",
    "大橘",
    "石头",
    "江湖",
    "半糖",
    "麦兜",
    "土豆",
    "阿狸",
    "喵喵",
    "啵啵",
    "嘟嘟",
    "果果",
    "乐乐",
    "朵朵",
    "豆豆",
    "甜甜",
    "静静",
    "人间清醒",
    "不吃香菜",
    "睡不醒",
    "风吹麦浪",
    "一路向北",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "田", "董", "潘", "袁", "蔡", "蒋",
    "余", "叶",
];
const SURNAME_SUFFIXES: &[&str] = &["先生", "女士", "小姐", "哥", "姐", "老师", "总", "师傅"];
const GIVEN_NAMES: &[&str] = &[
    "子涵", "浩然", "雨桐", "梓轩", "欣怡", "一诺", "思远", "佳琪", "俊杰", "诗涵", "宇航", "雨萱", "博文", "可馨",
    "天佑", "嘉怡", "志强", "秀英", "建华", "晓燕",
];
const LATIN_NAMES: &[&str] = &[
    "Amy", "Leo", "Jason", "Coco", "Kiki", "Lucky", "Tony", "Kevin", "Lily", "Emma", "Eric", "Jack", "Momo", "Vicky",
    "Sunny", "Candy", "Alex", "Mike", "Anna", "Ivy", "Bella", "Cindy", "Daisy", "Frank",
];
const CREATOR_SUFFIXES: &[&str] = &["老师", "探店", "说车", "带你玩", "的日常", "vlog"];

/// Relative chance of a message at each hour of the day: quiet at night, peaks at lunch and in
/// the evening, as chat apps do.
const HOUR_WEIGHTS: [f64; 24] = [
    1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2.0, 3.0, 3.0, 3.0, 3.5, 4.0, 3.0, 3.0, 3.0, 3.0, 3.5, 4.5, 5.5, 6.0, 6.0, 5.0,
    3.0,
];

// ---------------------------------------------------------------------------------------------
// World state.
// ---------------------------------------------------------------------------------------------

struct City {
    /// The short name used inside group names, kept to a few characters.
    short: String,
    users: Vec<u32>,
    /// Users of this city by interest, so members can be drawn from (city, category) in O(1).
    by_cat: Vec<Vec<u32>>,
    creators: Vec<u32>,
}

struct Place {
    city: u32,
    /// The district's short name used inside group names, kept to a few characters.
    short: String,
    users: Vec<u32>,
}

#[derive(Default)]
struct Users {
    place: Vec<u32>,
    city: Vec<u32>,
    cats: Vec<[u8; 3]>,
    ncats: Vec<u8>,
    creator: Vec<bool>,
}

impl Users {
    fn len(&self) -> usize {
        self.place.len()
    }

    fn has_interest(&self, u: usize, cat: u8) -> bool {
        self.cats[u][..self.ncats[u] as usize].contains(&cat)
    }
}

struct GroupInfo {
    owner: u32,
    city: u32,
    cat: u8,
    capacity: u16,
    created: u32,
    target: u32,
}

/// Internal counters that the tests use to check properties not visible in the output, such as
/// the home city of members.
#[derive(Debug, Default, Clone)]
struct Stats {
    mutual_edges: u64,
    same_city_edges: u64,
    non_owner_members: u64,
    same_city_members: u64,
    interest_members: u64,
    full_groups: u64,
}

struct Clock {
    /// `YYYY-MM-DD` for every day from the base day to today.
    dates: Vec<String>,
    /// Seconds from the base to local midnight of today.
    today_start: i64,
}

impl Clock {
    fn new(today: NaiveDate) -> Clock {
        let base = today - Duration::days(BASE_DAYS);
        let mut dates = Vec::with_capacity(BASE_DAYS as usize + 1);
        for i in 0..=BASE_DAYS {
            let d = base + Duration::days(i);
            dates.push(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()));
        }
        Clock { dates, today_start: BASE_DAYS * SECS_PER_DAY }
    }

    /// Appends an RFC 3339 timestamp in the service timezone (+08:00).
    fn push(&self, buf: &mut String, t: i64) -> Result<()> {
        let day = (t / SECS_PER_DAY) as usize;
        let s = t % SECS_PER_DAY;
        buf.push('"');
        buf.push_str(&self.dates[day]);
        write!(buf, "T{:02}:{:02}:{:02}+08:00\"", s / 3600, (s / 60) % 60, s % 60)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------------------------

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn pick_str(rng: &mut StdRng, items: &[&'static str]) -> &'static str {
    items[rng.gen_range(0..items.len())]
}

/// A standard normal deviate (Box–Muller), so no extra distribution crate is needed.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Appends `s` as a JSON string literal.
fn push_json_str(buf: &mut String, s: &str) -> Result<()> {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => write!(buf, "\\u{:04x}", c as u32)?,
            c => buf.push(c),
        }
    }
    buf.push('"');
    Ok(())
}

/// Ethnic names that follow the geographic stem in autonomous prefectures and counties
/// (大理白族自治州, 塔什库尔干塔吉克自治县); nobody says them in a chat-group name.
const ETHNIC: &[&str] = &[
    "柯尔克孜",
    "乌孜别克",
    "维吾尔",
    "哈萨克",
    "达斡尔",
    "塔吉克",
    "鄂伦春",
    "鄂温克",
    "蒙古",
    "布依",
    "朝鲜",
    "土家",
    "哈尼",
    "傈僳",
    "拉祜",
    "景颇",
    "仫佬",
    "毛南",
    "仡佬",
    "纳西",
    "布朗",
    "撒拉",
    "锡伯",
    "阿昌",
    "普米",
    "裕固",
    "独龙",
    "东乡",
    "回族",
    "藏族",
    "苗族",
    "彝族",
    "壮族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "傣族",
    "黎族",
    "佤族",
    "畲族",
    "羌族",
    "水族",
    "土族",
    "怒族",
    "京族",
];

/// Cuts the ethnic part off a short name (大理白族 → 大理) when a stem of two or more
/// characters stays.
fn strip_ethnic(name: &str) -> &str {
    let mut cut = name.len();
    for e in ETHNIC {
        if let Some(i) = name.find(e) {
            if name[..i].chars().count() >= 2 && i < cut {
                cut = i;
            }
        }
    }
    &name[..cut]
}

/// Keeps a name short enough to sit inside a group name: ethnic parts are dropped, and names
/// still too long fall back to the given alternative or, failing that, to their first two
/// characters.
fn display_short(short: &str, full: &str, fallback: Option<&str>) -> String {
    let short = strip_ethnic(short);
    let n = short.chars().count();
    if (2..=5).contains(&n) {
        return short.to_string();
    }
    if n < 2 && full.chars().count() <= 5 {
        return full.to_string();
    }
    if let Some(f) = fallback {
        return f.to_string();
    }
    short.chars().take(2).collect()
}

fn city_weight(adcode: u64) -> f64 {
    let p2 = adcode / 10_000_000_000;
    let p4 = adcode / 100_000_000;
    for &(prefix, w) in CITY_WEIGHTS {
        if (prefix < 100 && prefix == p2) || prefix == p4 {
            return w;
        }
    }
    1.0
}

/// Urban districts hold more people than counties, which matters for the home-district draw.
fn district_factor(name: &str) -> f64 {
    if name.ends_with('区') {
        3.0
    } else if name.ends_with('市') {
        1.5
    } else {
        1.0
    }
}

fn landmarks_of(adcode: u64) -> Option<&'static [&'static str]> {
    let key = adcode / 1_000_000;
    LANDMARKS.iter().find(|(k, _)| *k == key).map(|(_, names)| *names)
}

/// Values that fill the placeholders of name, description and announcement templates.
struct Fill<'a> {
    c: &'a str,
    d: &'a str,
    l: &'a str,
    h: &'a str,
    p: &'a str,
    a: &'a str,
    t: &'a str,
    n: u32,
}

fn expand(template: &str, f: &Fill, out: &mut String) -> Result<()> {
    let mut chars = template.chars();
    while let Some(ch) = chars.next() {
        if ch != '{' {
            out.push(ch);
            continue;
        }
        let key = chars.next();
        // Skip the closing brace.
        chars.next();
        match key {
            Some('c') => out.push_str(f.c),
            Some('d') => out.push_str(f.d),
            Some('l') => out.push_str(f.l),
            Some('h') => out.push_str(f.h),
            Some('p') => out.push_str(f.p),
            Some('a') => out.push_str(f.a),
            Some('t') => out.push_str(f.t),
            Some('n') => write!(out, "{}", f.n)?,
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

fn generate_with_stats(places_in: &[GenPlace], opts: &GenOptions, out: &mut dyn Write) -> Result<(GenSummary, Stats)> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let mut summary = GenSummary::default();
    let mut stats = Stats::default();
    if opts.groups == 0 {
        return Ok((summary, stats));
    }
    if places_in.is_empty() {
        bail!("generate_world needs at least one place");
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let clock = Clock::new(opts.today);

    // Work on places sorted by adcode so that the output does not depend on the caller's order.
    let mut order: Vec<&GenPlace> = places_in.iter().collect();
    order.sort_by_key(|p| p.adcode);
    let (mut places, mut cities, place_weights) = build_geography(&order);

    let n_users = opts.groups * USERS_PER_GROUP;
    if n_users >= u32::MAX as usize {
        bail!("too many groups requested");
    }
    let mut line = String::with_capacity(2048);

    // ---- Users ------------------------------------------------------------------------------
    let users = gen_users(&mut rng, n_users, &place_weights, &mut places, &mut cities, &mut w, &mut line)?;
    summary.users = n_users as u64;

    // ---- Follows ----------------------------------------------------------------------------
    let adj = gen_friends(&mut rng, &users, &places, &cities);
    let oneway = gen_oneway(&mut rng, &users, &cities, &adj);
    for u in 0..n_users {
        let mut targets: Vec<u32> = adj[u].iter().chain(oneway[u].iter()).copied().collect();
        targets.sort_unstable();
        for v in targets {
            line.clear();
            writeln!(line, "{{\"type\":\"follow\",\"from\":{},\"to\":{}}}", u + 1, v + 1)?;
            w.write_all(line.as_bytes())?;
            summary.follows += 1;
        }
        for &v in &adj[u] {
            if (u as u32) < v {
                stats.mutual_edges += 1;
                if users.city[u] == users.city[v as usize] {
                    stats.same_city_edges += 1;
                }
            }
        }
    }
    drop(oneway);

    // ---- Groups -----------------------------------------------------------------------------
    let groups = gen_groups(
        &mut rng,
        opts.groups,
        &users,
        &adj,
        GroupCtx { gazetteer: &order, places: &places, cities: &cities, clock: &clock },
        &mut w,
        &mut line,
    )?;
    summary.groups = groups.len() as u64;

    // ---- Members ----------------------------------------------------------------------------
    let members = gen_members(&mut rng, &groups, &users, &adj, &cities, &clock, &mut w, &mut line, &mut stats)?;
    summary.members = members.user.len() as u64;
    drop(adj);

    // ---- Activity ---------------------------------------------------------------------------
    let so_far = summary.users + summary.follows + summary.groups + summary.members;
    let budget = LINE_BUDGET_PER_GROUP * opts.groups as f64 - so_far as f64;
    let target = (ACTIVITY_TARGET_PER_GROUP * opts.groups as f64).min(budget.max(0.0));
    summary.activity = gen_activity(&mut rng, &groups, &members, target, &clock, &mut w, &mut line)?;

    w.flush()?;
    Ok((summary, stats))
}

fn build_geography(order: &[&GenPlace]) -> (Vec<Place>, Vec<City>, Vec<f64>) {
    let mut city_index: BTreeMap<&str, u32> = BTreeMap::new();
    let mut cities: Vec<City> = Vec::new();
    let mut places = Vec::with_capacity(order.len());
    for p in order {
        let next = cities.len() as u32;
        let ci = *city_index.entry(p.city.as_str()).or_insert(next);
        if ci == next {
            cities.push(City {
                short: display_short(&p.city_short, &p.city, None),
                users: Vec::new(),
                by_cat: vec![Vec::new(); CATEGORIES.len()],
                creators: Vec::new(),
            });
        }
        places.push(Place { city: ci, short: String::new(), users: Vec::new() });
    }
    for (i, p) in order.iter().enumerate() {
        let city_short = cities[places[i].city as usize].short.clone();
        places[i].short = display_short(&p.short, &p.district, Some(&city_short));
    }
    // A city's weight is shared among its districts in proportion to how urban they are.
    let mut factor_sum = vec![0.0f64; cities.len()];
    for (i, p) in order.iter().enumerate() {
        factor_sum[places[i].city as usize] += district_factor(&p.district);
    }
    let weights = order
        .iter()
        .enumerate()
        .map(|(i, p)| city_weight(p.adcode) * district_factor(&p.district) / factor_sum[places[i].city as usize])
        .collect();
    (places, cities, weights)
}

fn gen_users(
    rng: &mut StdRng,
    n: usize,
    place_weights: &[f64],
    places: &mut [Place],
    cities: &mut [City],
    w: &mut dyn Write,
    line: &mut String,
) -> Result<Users> {
    let place_dist = WeightedIndex::new(place_weights)?;
    // Interests lean on gender a little (parenting and beauty female, cars and gaming male),
    // which gives the recommender a realistic correlation to pick up.
    let female = WeightedIndex::new(CATEGORIES.iter().map(|c| c.weight * c.female))?;
    let male = WeightedIndex::new(CATEGORIES.iter().map(|c| c.weight * c.male))?;
    let neutral = WeightedIndex::new(CATEGORIES.iter().map(|c| c.weight))?;
    let mut users = Users::default();
    for u in 0..n {
        let place = place_dist.sample(rng);
        let city = places[place].city as usize;
        let r: f64 = rng.gen();
        let (gender, dist) = if r < 0.04 {
            ("unknown", &neutral)
        } else if r < 0.52 {
            ("female", &female)
        } else {
            ("male", &male)
        };
        let ncats = match rng.gen_range(0..10) {
            0..=3 => 1,
            4..=7 => 2,
            _ => 3,
        };
        let mut cats = [0u8; 3];
        let mut k = 0;
        while k < ncats {
            let c = dist.sample(rng) as u8;
            if !cats[..k].contains(&c) {
                cats[k] = c;
                k += 1;
            }
        }
        let birth_year = if rng.gen_bool(0.05) {
            None
        } else {
            let mut y;
            loop {
                y = (1995.0 + 8.5 * normal(rng)).round() as i32;
                if (1960..=2008).contains(&y) {
                    break;
                }
            }
            Some(y)
        };
        let creator = rng.gen_bool(0.01);
        let nickname = nickname(rng, birth_year, creator);
        let show = rng.gen_bool(0.88);

        line.clear();
        write!(line, "{{\"type\":\"user\",\"id\":{},\"nickname\":", u + 1)?;
        push_json_str(line, &nickname)?;
        write!(line, ",\"gender\":\"{gender}\"")?;
        if let Some(y) = birth_year {
            write!(line, ",\"birth_year\":{y}")?;
        }
        writeln!(
            line,
            ",\"tier\":\"{}\",\"show_joined_groups\":{}}}",
            if creator { "creator" } else { "normal" },
            show
        )?;
        w.write_all(line.as_bytes())?;

        let id = u as u32;
        places[place].users.push(id);
        cities[city].users.push(id);
        for &c in &cats[..ncats] {
            cities[city].by_cat[c as usize].push(id);
        }
        if creator {
            cities[city].creators.push(id);
        }
        users.place.push(place as u32);
        users.city.push(city as u32);
        users.cats.push(cats);
        users.ncats.push(ncats as u8);
        users.creator.push(creator);
    }
    Ok(users)
}

fn nickname(rng: &mut StdRng, birth_year: Option<i32>, creator: bool) -> String {
    let mut s = String::new();
    let r = rng.gen_range(0..100);
    match r {
        0..=24 => {
            s.push_str(pick_str(rng, NICK_PREFIXES));
            s.push_str(pick_str(rng, NICK_CHARS));
            if rng.gen_bool(0.15) {
                s.push('儿');
            }
        }
        25..=59 => {
            // A little decoration keeps common words from producing too many identical names.
            match rng.gen_range(0..12) {
                0 => s.push('是'),
                1 => s.push_str("我是"),
                _ => {}
            }
            s.push_str(pick_str(rng, NICK_WORDS));
            match rng.gen_range(0..12) {
                0 => s.push('呀'),
                1 => s.push('~'),
                2 => s.push('酱'),
                3 => s.push('吖'),
                _ => {}
            }
        }
        60..=72 => {
            s.push_str(pick_str(rng, SURNAMES));
            s.push_str(pick_str(rng, SURNAME_SUFFIXES));
        }
        73..=81 => s.push_str(pick_str(rng, GIVEN_NAMES)),
        _ => match rng.gen_range(0..4) {
            0 => {
                s.push_str(pick_str(rng, LATIN_NAMES));
                s.push('_');
                s.push_str(&rng.gen_range(1..100).to_string());
            }
            1 => {
                s.push_str(pick_str(rng, NICK_WORDS));
                let y = birth_year.unwrap_or_else(|| rng.gen_range(1985..2010));
                s.push_str(&y.to_string());
            }
            2 => {
                s.push_str(pick_str(rng, LATIN_NAMES));
                s.push_str(pick_str(rng, &["老师", "哥", "姐", "酱", "同学"]));
            }
            _ => s.push_str(pick_str(rng, LATIN_NAMES)),
        },
    }
    if creator && rng.gen_bool(0.6) {
        s.push_str(pick_str(rng, CREATOR_SUFFIXES));
    }
    s
}

/// Tries to add a mutual friendship; refuses self-loops, duplicates and hubs past `MAX_DEGREE`.
fn add_edge(adj: &mut [Vec<u32>], u: u32, v: u32) -> bool {
    let (ui, vi) = (u as usize, v as usize);
    if u == v || adj[ui].len() >= MAX_DEGREE || adj[vi].len() >= MAX_DEGREE || adj[ui].contains(&v) {
        return false;
    }
    adj[ui].push(v);
    adj[vi].push(u);
    true
}

/// Builds the mutual-follow graph: mostly neighbours (same district or city, sometimes with a
/// shared interest), some long-distance ties, then a round of triadic closure so that friends of
/// friends become friends, as real social graphs cluster.
fn gen_friends(rng: &mut StdRng, users: &Users, places: &[Place], cities: &[City]) -> Vec<Vec<u32>> {
    let n = users.len();
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
    for u in 0..n {
        let mut k = lognormal(rng, 1.15, 0.8).round() as usize;
        if users.creator[u] {
            k *= 3;
        }
        let city = &cities[users.city[u] as usize];
        for _ in 0..k.min(40) {
            for _attempt in 0..3 {
                let r: f64 = rng.gen();
                let bucket: &[u32] = if r < 0.35 {
                    &places[users.place[u] as usize].users
                } else if r < 0.55 {
                    let c = users.cats[u][rng.gen_range(0..users.ncats[u] as usize)];
                    &city.by_cat[c as usize]
                } else if r < 0.87 {
                    &city.users
                } else {
                    &[]
                };
                let v = if bucket.len() > 1 { *pick(rng, bucket) } else { rng.gen_range(0..n) as u32 };
                if add_edge(&mut adj, u as u32, v) {
                    break;
                }
            }
        }
    }
    for u in 0..n {
        let tries = usize::from(rng.gen_bool(0.55));
        for _ in 0..tries {
            if adj[u].is_empty() {
                break;
            }
            let f = *pick(rng, &adj[u]) as usize;
            let v = *pick(rng, &adj[f]);
            add_edge(&mut adj, u as u32, v);
        }
    }
    for list in &mut adj {
        list.sort_unstable();
    }
    adj
}

/// One-way follows: mostly fans following creators, plus some people following a neighbour who
/// has not followed back.
fn gen_oneway(rng: &mut StdRng, users: &Users, cities: &[City], adj: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let n = users.len();
    let all_creators: Vec<u32> = (0..n as u32).filter(|&u| users.creator[u as usize]).collect();
    let mut oneway: Vec<Vec<u32>> = vec![Vec::new(); n];
    for u in 0..n {
        if !rng.gen_bool(0.3) {
            continue;
        }
        let k = if rng.gen_bool(0.75) { 1 } else { 2 };
        let city = &cities[users.city[u] as usize];
        for _ in 0..k {
            let v = if !all_creators.is_empty() && rng.gen_bool(0.6) {
                if !city.creators.is_empty() && rng.gen_bool(0.5) {
                    *pick(rng, &city.creators)
                } else {
                    *pick(rng, &all_creators)
                }
            } else if city.users.len() > 1 {
                *pick(rng, &city.users)
            } else {
                rng.gen_range(0..n) as u32
            };
            if v as usize != u && adj[u].binary_search(&v).is_err() && !oneway[u].contains(&v) {
                oneway[u].push(v);
            }
        }
    }
    oneway
}

struct GroupCtx<'a> {
    gazetteer: &'a [&'a GenPlace],
    places: &'a [Place],
    cities: &'a [City],
    clock: &'a Clock,
}

fn gen_groups(
    rng: &mut StdRng,
    count: usize,
    users: &Users,
    adj: &[Vec<u32>],
    ctx: GroupCtx,
    w: &mut dyn Write,
    line: &mut String,
) -> Result<Vec<GroupInfo>> {
    let n = users.len();
    let creators: Vec<u32> =
        (0..n as u32).filter(|&u| users.creator[u as usize] && !adj[u as usize].is_empty()).collect();
    let cat_dist = WeightedIndex::new(CATEGORIES.iter().map(|c| c.weight))?;
    let hour_dist = WeightedIndex::new(HOUR_WEIGHTS)?;
    let mut owned = vec![0u8; n];
    let limit = |u: usize| {
        if users.creator[u] {
            CREATOR_MAX_OWNED
        } else {
            NORMAL_MAX_OWNED
        }
    };
    // The cursor lets a fallback scan find an eligible owner in amortised O(1) when random
    // draws keep failing, which only happens in tiny worlds.
    let mut cursor = 0usize;
    let mut groups = Vec::with_capacity(count);
    let mut name = String::new();
    for g in 0..count {
        let want_creator = !creators.is_empty() && rng.gen_bool(0.03);
        let mut owner = None;
        for _ in 0..64 {
            let u = if want_creator { *pick(rng, &creators) as usize } else { rng.gen_range(0..n) };
            if !adj[u].is_empty() && owned[u] < limit(u) {
                owner = Some(u);
                break;
            }
        }
        if owner.is_none() {
            while cursor < n {
                if !adj[cursor].is_empty() && owned[cursor] < limit(cursor) {
                    owner = Some(cursor);
                    break;
                }
                cursor += 1;
            }
        }
        let Some(owner) = owner else {
            bail!("no user left who may own another group");
        };
        owned[owner] += 1;
        let creator = users.creator[owner];
        let place_i = users.place[owner] as usize;
        let gp = ctx.gazetteer[place_i];
        let place = &ctx.places[place_i];
        let city_i = place.city as usize;
        let city = &ctx.cities[city_i];
        let cat = if rng.gen_bool(0.8) {
            users.cats[owner][rng.gen_range(0..users.ncats[owner] as usize)]
        } else {
            cat_dist.sample(rng) as u8
        };
        let category = &CATEGORIES[cat as usize];
        let special = landmarks_of(gp.adcode);
        let area: &str = match special {
            Some(list) if rng.gen_bool(0.7) => pick_str(rng, list),
            _ => &place.short,
        };
        let landmark: &str = match special {
            Some(list) if rng.gen_bool(0.75) => pick_str(rng, list),
            _ => pick_str(rng, GENERIC_LANDMARKS),
        };
        // Hometown groups name some other city; the owner's own city is avoided when possible.
        let mut home = &ctx.cities[rng.gen_range(0..ctx.cities.len())].short;
        if home == &city.short && ctx.cities.len() > 1 {
            home = &ctx.cities[(city_i + 1 + rng.gen_range(0..ctx.cities.len() - 1)) % ctx.cities.len()].short;
        }
        let place_name = {
            let r: f64 = rng.gen();
            let district_is_city = gp.district == gp.city;
            if r < 0.5 || (district_is_city && r < 0.7) {
                if district_is_city {
                    gp.city.clone()
                } else {
                    format!("{}{}", gp.city, gp.district)
                }
            } else if r < 0.8 {
                format!("{}{}", gp.district, landmark)
            } else if let Some(list) = special {
                format!("{}{}", city.short, pick_str(rng, list))
            } else if district_is_city {
                format!("{}{}", gp.city, landmark)
            } else {
                format!("{}{}{}", gp.city, gp.district, landmark)
            }
        };
        let n_small = rng.gen_range(2..=9);
        let fill = Fill {
            c: &city.short,
            d: &place.short,
            l: area,
            h: home,
            p: &place_name,
            a: pick_str(rng, category.about),
            t: category.label,
            n: n_small,
        };

        // Name: a category template, sometimes numbered ("3群") or tagged with the city.
        name.clear();
        expand(pick_str(rng, category.names), &fill, &mut name)?;
        if rng.gen_bool(0.08) && name.ends_with('群') && !name.contains(|c: char| c.is_ascii_digit()) {
            name.pop();
            write!(name, "{n_small}群")?;
        } else if rng.gen_bool(0.03) && !name.starts_with(city.short.as_str()) {
            name.insert_str(0, &format!("【{}】", city.short));
        }
        if name.chars().count() > 30 {
            name = format!("{}{}群", city.short, category.label);
            if name.chars().count() > 30 {
                name = name.chars().take(30).collect();
            }
        }
        if name.chars().count() < 2 {
            name.push_str(category.label);
        }

        let mut description = String::new();
        expand(pick_str(rng, DESCRIPTION_TEMPLATES), &fill, &mut description)?;
        let mut announcement = String::new();
        if rng.gen_bool(0.45) {
            let k = if rng.gen_bool(0.7) { 1 } else { 2 };
            for _ in 0..k {
                expand(pick_str(rng, ANNOUNCEMENTS), &fill, &mut announcement)?;
            }
        }

        let location = if rng.gen_bool(0.95) {
            // Uniform over a disc of radius 8 km, converted to degrees at this latitude.
            let r_km = 8.0 * rng.gen::<f64>().sqrt();
            let theta = rng.gen_range(0.0..std::f64::consts::TAU);
            let lat = gp.lat + r_km * theta.cos() / 111.0;
            let lon = gp.lon + r_km * theta.sin() / (111.0 * gp.lat.to_radians().cos().max(0.1));
            Some((lat, lon))
        } else {
            None
        };
        let join_approval = rng.gen_bool(0.10);
        let can_invite = rng.gen_bool(0.90);
        let discoverable = rng.gen_bool(0.97);
        // Recent groups are a little more common than old ones.
        let max_age = HISTORY_DAYS * SECS_PER_DAY;
        let age = 3600 + (rng.gen::<f64>().powf(1.3) * (max_age - 3600) as f64) as i64;
        let created_day = (ctx.clock.today_start - age) / SECS_PER_DAY;
        let created = created_day * SECS_PER_DAY + hour_dist.sample(rng) as i64 * 3600 + rng.gen_range(0..3600);
        let created = created.min(ctx.clock.today_start - 60);
        let capacity = if creator { CREATOR_CAPACITY } else { NORMAL_CAPACITY };
        let target = member_target(rng, capacity, creator);

        line.clear();
        write!(line, "{{\"type\":\"group\",\"id\":{},\"owner_id\":{},\"name\":", g + 1, owner + 1)?;
        push_json_str(line, &name)?;
        write!(line, ",\"category\":\"{}\",\"description\":", category.id)?;
        push_json_str(line, &description)?;
        line.push_str(",\"announcement\":");
        push_json_str(line, &announcement)?;
        if let Some((lat, lon)) = location {
            write!(line, ",\"location\":{{\"lat\":{lat:.6},\"lon\":{lon:.6},\"place_name\":")?;
            push_json_str(line, &place_name)?;
            line.push('}');
        }
        write!(
            line,
            ",\"join_approval\":{join_approval},\"members_can_invite\":{can_invite},\"discoverable\":{discoverable},\"created_at\":"
        )?;
        ctx.clock.push(line, created)?;
        line.push_str("}\n");
        w.write_all(line.as_bytes())?;

        groups.push(GroupInfo {
            owner: owner as u32,
            city: city_i as u32,
            cat,
            capacity: capacity as u16,
            created: created as u32,
            target: target as u32,
        });
    }
    Ok(groups)
}

/// Heavy-tailed group size (owner included): lognormal with median 6 and mean about 9, creator
/// groups about three times bigger, and a rare group that fills up completely.
fn member_target(rng: &mut StdRng, capacity: usize, creator: bool) -> usize {
    if rng.gen_bool(0.0008) {
        return capacity;
    }
    let mut x = lognormal(rng, 6.0, 0.85);
    if creator {
        x *= 3.0;
    }
    (x.round() as usize).clamp(1, capacity)
}

/// Flat storage of all memberships, group by group, for the activity pass.
struct Members {
    start: Vec<usize>,
    user: Vec<u32>,
    joined: Vec<u32>,
    /// 0 member, 1 admin, 2 owner.
    role: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn gen_members(
    rng: &mut StdRng,
    groups: &[GroupInfo],
    users: &Users,
    adj: &[Vec<u32>],
    cities: &[City],
    clock: &Clock,
    w: &mut dyn Write,
    line: &mut String,
    stats: &mut Stats,
) -> Result<Members> {
    let n = users.len();
    // `mark[u] == g + 1` means user u is already in group g: an O(1) duplicate check without
    // clearing a set for every group.
    let mut mark = vec![0u32; n];
    let mut count = vec![0u16; n];
    let mut all =
        Members { start: Vec::with_capacity(groups.len() + 1), user: Vec::new(), joined: Vec::new(), role: Vec::new() };
    let horizon = clock.today_start - 1;
    let mut list: Vec<(u32, i64, u8)> = Vec::new();
    let mut pending: Vec<(u32, i64)> = Vec::new();
    for (g, info) in groups.iter().enumerate() {
        let gid = g as u32 + 1;
        let city = &cities[info.city as usize];
        let created = info.created as i64;
        let span = (horizon - created).max(1) as f64;
        let target = info.target as usize;
        list.clear();
        pending.clear();
        let owner = info.owner;
        list.push((owner, created, 2));
        mark[owner as usize] = gid;
        count[owner as usize] = count[owner as usize].saturating_add(1);
        // The owner starts by inviting a few friends from the same city.
        for _ in 0..target.saturating_sub(1).min(3) {
            let f = *pick(rng, &adj[owner as usize]);
            if users.city[f as usize] == info.city {
                pending.push((f, created));
            }
        }
        let global_share = if CATEGORIES[info.cat as usize].id == "hometown" { 0.35 } else { 0.12 };
        let mut attempts = 0;
        let max_attempts = target * 8 + 20;
        while list.len() < target && attempts < max_attempts {
            attempts += 1;
            let (cand, near) = if let Some((p, t)) = pending.pop() {
                (p, Some(t))
            } else {
                let r: f64 = rng.gen();
                let by_cat = &city.by_cat[info.cat as usize];
                let cand = if r < 0.7 && !by_cat.is_empty() {
                    *pick(rng, by_cat)
                } else if r < 1.0 - global_share && !city.users.is_empty() {
                    *pick(rng, &city.users)
                } else {
                    rng.gen_range(0..n) as u32
                };
                (cand, None)
            };
            let c = cand as usize;
            if mark[c] == gid {
                continue;
            }
            // Busy people are reluctant to join yet another group.
            let k = count[c];
            if k >= MAX_MEMBERSHIPS || (k >= 8 && !rng.gen_bool(0.3)) {
                continue;
            }
            // People without the interest, even friends who were asked along, often decline.
            if !users.has_interest(c, info.cat) && !rng.gen_bool(0.4) {
                continue;
            }
            // Most people join soon after a group is created; friends follow their inviter
            // within a few days.
            let joined = match near {
                Some(t) => t + rng.gen_range(60..3 * SECS_PER_DAY),
                None => created + (rng.gen::<f64>().powf(2.5) * span) as i64,
            }
            .clamp(created, horizon);
            mark[c] = gid;
            count[c] = k + 1;
            list.push((cand, joined, 0));
            // Friends join together.
            if rng.gen_bool(0.4) && !adj[c].is_empty() {
                for _ in 0..rng.gen_range(1..=2) {
                    let f = *pick(rng, &adj[c]);
                    if users.city[f as usize] == info.city && mark[f as usize] != gid {
                        pending.push((f, joined));
                    }
                }
            }
        }
        if list.len() >= info.capacity as usize {
            stats.full_groups += 1;
        }
        // A few admins: usually one or more in groups that need moderating, rarely in tiny ones.
        let len = list.len();
        let admins = if len >= 8 && rng.gen_bool(0.6) {
            (1 + len / 60).min(5)
        } else if len >= 3 && rng.gen_bool(0.15) {
            1
        } else {
            0
        };
        for _ in 0..admins {
            let i = rng.gen_range(1..len);
            list[i].2 = 1;
        }
        list[1..].sort_unstable_by_key(|&(u, t, _)| (t, u));

        all.start.push(all.user.len());
        for &(u, t, role) in &list {
            line.clear();
            write!(
                line,
                "{{\"type\":\"member\",\"group_id\":{},\"user_id\":{},\"role\":\"{}\",\"joined_at\":",
                gid,
                u + 1,
                match role {
                    2 => "owner",
                    1 => "admin",
                    _ => "member",
                }
            )?;
            clock.push(line, t)?;
            line.push_str("}\n");
            w.write_all(line.as_bytes())?;
            all.user.push(u);
            all.joined.push(t as u32);
            all.role.push(role);
            if role != 2 {
                stats.non_owner_members += 1;
                if users.city[u as usize] == info.city {
                    stats.same_city_members += 1;
                }
                if users.has_interest(u as usize, info.cat) {
                    stats.interest_members += 1;
                }
            }
        }
    }
    all.start.push(all.user.len());
    Ok(all)
}

/// Per-(group, member, day) message counts for the last `ACTIVITY_DAYS` days. Each group gets an
/// activity level (about one in seven is silent, and small quiet groups often say nothing in the window), bigger groups are livelier per member, owners and
/// admins talk more, and the whole thing is scaled so that the expected line count meets
/// `target`.
fn gen_activity(
    rng: &mut StdRng,
    groups: &[GroupInfo],
    members: &Members,
    target: f64,
    clock: &Clock,
    w: &mut dyn Write,
    line: &mut String,
) -> Result<u64> {
    let hour_dist = WeightedIndex::new(HOUR_WEIGHTS)?;
    let mut levels = Vec::with_capacity(groups.len());
    let mut expected = 0.0f64;
    for g in 0..groups.len() {
        let (a, b) = (members.start[g], members.start[g + 1]);
        let size = (b - a) as f64;
        let level = if rng.gen_bool(0.15) { 0.0 } else { lognormal(rng, 1.0, 1.0) * size.powf(0.3) };
        let weight: f64 = members.role[a..b].iter().map(|&r| role_boost(r)).sum();
        expected += level * weight * ACTIVITY_DAYS as f64;
        levels.push(level);
    }
    if expected <= 0.0 || target <= 0.0 {
        return Ok(0);
    }
    let scale = target / expected;
    let first_day = clock.today_start / SECS_PER_DAY - (ACTIVITY_DAYS - 1);
    let mut lines = 0u64;
    for (g, &level) in levels.iter().enumerate() {
        if level == 0.0 {
            continue;
        }
        for m in members.start[g]..members.start[g + 1] {
            // Some members are chatty and most lurk; the factor has mean one.
            let trait_factor = lognormal(rng, (-0.5f64).exp(), 1.0);
            let p = (scale * level * role_boost(members.role[m]) * trait_factor).min(0.95);
            if p < 1e-6 {
                continue;
            }
            let joined = members.joined[m] as i64;
            for day in first_day..first_day + ACTIVITY_DAYS {
                if !rng.gen_bool(p) {
                    continue;
                }
                let day_start = day * SECS_PER_DAY;
                let mut t = day_start + hour_dist.sample(rng) as i64 * 3600 + rng.gen_range(0..3600);
                if t < joined {
                    if joined >= day_start + SECS_PER_DAY - 1 {
                        continue;
                    }
                    t = rng.gen_range(joined..day_start + SECS_PER_DAY);
                }
                let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                let messages = (u.powf(-1.0 / 1.2).floor() as u32).clamp(1, 50);
                line.clear();
                write!(
                    line,
                    "{{\"type\":\"activity\",\"group_id\":{},\"user_id\":{},\"at\":",
                    g + 1,
                    members.user[m] + 1
                )?;
                clock.push(line, t)?;
                writeln!(line, ",\"messages\":{messages}}}")?;
                w.write_all(line.as_bytes())?;
                lines += 1;
            }
        }
    }
    Ok(lines)
}

fn role_boost(role: u8) -> f64 {
    match role {
        2 => 3.0,
        1 => 2.0,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    fn place(adcode: u64, district: &str, short: &str, city: &str, city_short: &str, lat: f64, lon: f64) -> GenPlace {
        GenPlace {
            adcode,
            district: district.to_string(),
            short: short.to_string(),
            city: city.to_string(),
            city_short: city_short.to_string(),
            lat,
            lon,
        }
    }

    fn places() -> Vec<GenPlace> {
        vec![
            place(110105000000, "朝阳区", "朝阳", "北京市", "北京", 39.92, 116.44),
            place(110108000000, "海淀区", "海淀", "北京市", "北京", 39.96, 116.30),
            place(110119000000, "延庆区", "延庆", "北京市", "北京", 40.46, 115.97),
            place(310115000000, "浦东新区", "浦东新", "上海市", "上海", 31.22, 121.54),
            place(310104000000, "徐汇区", "徐汇", "上海市", "上海", 31.19, 121.44),
            place(330106000000, "西湖区", "西湖", "杭州市", "杭州", 30.26, 120.13),
            place(330108000000, "滨江区", "滨江", "杭州市", "杭州", 30.21, 120.21),
            place(440305000000, "南山区", "南山", "深圳市", "深圳", 22.53, 113.93),
            place(440304000000, "福田区", "福田", "深圳市", "深圳", 22.52, 114.06),
            place(510104000000, "锦江区", "锦江", "成都市", "成都", 30.66, 104.08),
            place(510107000000, "武侯区", "武侯", "成都市", "成都", 30.64, 104.04),
            place(500233000000, "忠县", "忠县", "重庆市", "重庆", 30.30, 108.04),
            place(532901000000, "大理市", "大理", "大理白族自治州", "大理白族", 25.59, 100.23),
            place(441900000000, "东莞市", "东莞", "东莞市", "东莞", 23.02, 113.75),
            place(653131000000, "塔什库尔干塔吉克自治县", "塔什库尔干塔吉克", "喀什地区", "喀什", 37.77, 75.23),
            place(140902000000, "忻府区", "忻府", "忻州市", "忻州", 38.40, 112.75),
        ]
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date")
    }

    fn run(places: &[GenPlace], groups: usize, seed: u64) -> (Vec<u8>, GenSummary, Stats) {
        let opts = GenOptions { groups, seed, today: today() };
        let mut out = Vec::new();
        let (summary, stats) = generate_with_stats(places, &opts, &mut out).expect("generation succeeds");
        (out, summary, stats)
    }

    fn ts(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
        let s = v.as_str().expect("timestamp is a string");
        assert!(s.ends_with("+08:00"), "timestamp {s} is not in +08:00");
        chrono::DateTime::parse_from_rfc3339(s).expect("RFC 3339 timestamp")
    }

    #[test]
    fn same_seed_gives_identical_bytes_regardless_of_place_order() {
        let p = places();
        let (a, sa, _) = run(&p, 500, 7);
        let (b, sb, _) = run(&p, 500, 7);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let mut reversed = places();
        reversed.reverse();
        let (c, _, _) = run(&reversed, 500, 7);
        assert_eq!(a, c, "output must not depend on the order of the places");
        let (d, _, _) = run(&p, 500, 8);
        assert_ne!(a, d, "another seed must give another world");
    }

    #[test]
    fn zero_groups_writes_nothing() {
        let (out, summary, _) = run(&places(), 0, 1);
        assert!(out.is_empty());
        assert_eq!(summary, GenSummary::default());
    }

    #[test]
    fn output_is_well_formed_and_consistent() {
        let groups_n = 2000;
        let (out, summary, _) = run(&places(), groups_n, 42);
        let text = String::from_utf8(out).expect("UTF-8 output");
        let order = ["user", "follow", "group", "member", "activity"];
        let today_start = today().and_hms_opt(0, 0, 0).expect("midnight");
        let today_end = today_start + Duration::days(1);
        let earliest_created = today_start - Duration::days(HISTORY_DAYS + 1);
        let activity_start = today_start - Duration::days(ACTIVITY_DAYS - 1);

        let mut stage = 0;
        let mut counts = [0u64; 5];
        let mut users: HashMap<u64, bool> = HashMap::new(); // id -> is creator
        let mut follows: HashSet<(u64, u64)> = HashSet::new();
        let mut groups: HashMap<u64, (u64, chrono::NaiveDateTime)> = HashMap::new();
        let mut member_count: HashMap<u64, usize> = HashMap::new();
        let mut joined: HashMap<(u64, u64), chrono::NaiveDateTime> = HashMap::new();
        let mut owner_lines = 0;
        let mut activity_keys: HashSet<(u64, u64, chrono::NaiveDate)> = HashSet::new();

        for line in text.lines() {
            assert!(line.starts_with("{\"type\":\""), "type must come first: {line}");
            let v: Value = serde_json::from_str(line).expect("every line is JSON");
            let t = v["type"].as_str().expect("type is a string");
            let i = order.iter().position(|o| *o == t).expect("known type");
            assert!(i >= stage, "{t} line out of order");
            stage = i;
            counts[i] += 1;
            let id = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {line}"));
            match t {
                "user" => {
                    assert!(users.insert(id("id"), v["tier"] == "creator").is_none());
                    assert!(["female", "male", "unknown"].contains(&v["gender"].as_str().expect("gender")));
                    if let Some(y) = v.get("birth_year") {
                        assert!((1960..=2008).contains(&y.as_u64().expect("year")));
                    }
                    assert!(!v["nickname"].as_str().expect("nickname").is_empty());
                }
                "follow" => {
                    let (a, b) = (id("from"), id("to"));
                    assert!(users.contains_key(&a) && users.contains_key(&b));
                    assert_ne!(a, b);
                    assert!(follows.insert((a, b)), "duplicate follow");
                }
                "group" => {
                    let owner = id("owner_id");
                    assert!(users.contains_key(&owner));
                    let name = v["name"].as_str().expect("name");
                    assert!((2..=30).contains(&name.chars().count()), "bad name {name}");
                    assert!(v["description"].as_str().expect("description").chars().count() <= 500);
                    assert!(v["announcement"].as_str().expect("announcement").chars().count() <= 1000);
                    let cat = v["category"].as_str().expect("category");
                    assert!(CATEGORIES.iter().any(|c| c.id == cat));
                    if let Some(loc) = v.get("location") {
                        assert!(loc["lat"].is_f64() && loc["lon"].is_f64());
                        assert!(!loc["place_name"].as_str().expect("place_name").is_empty());
                    }
                    let created = ts(&v["created_at"]).naive_local();
                    assert!(created >= earliest_created && created < today_start);
                    assert!(groups.insert(id("id"), (owner, created)).is_none());
                }
                "member" => {
                    let (g, u) = (id("group_id"), id("user_id"));
                    let (owner, created) = groups[&g];
                    assert!(users.contains_key(&u));
                    let at = ts(&v["joined_at"]).naive_local();
                    assert!(at >= created && at < today_end, "joined_at out of range");
                    assert!(joined.insert((g, u), at).is_none(), "duplicate member");
                    *member_count.entry(g).or_default() += 1;
                    match v["role"].as_str().expect("role") {
                        "owner" => {
                            assert_eq!(u, owner);
                            owner_lines += 1;
                        }
                        "admin" | "member" => assert_ne!(u, owner),
                        r => panic!("bad role {r}"),
                    }
                }
                "activity" => {
                    let (g, u) = (id("group_id"), id("user_id"));
                    let member_since = joined.get(&(g, u)).expect("activity only by members");
                    let at = ts(&v["at"]).naive_local();
                    assert!(at >= activity_start && at < today_end, "activity outside the window");
                    assert!(at >= *member_since, "activity before joining");
                    assert!(activity_keys.insert((g, u, at.date())), "one line per group, member and day");
                    assert!((1..=50).contains(&id("messages")));
                }
                _ => unreachable!(),
            }
        }
        assert_eq!(counts, [summary.users, summary.follows, summary.groups, summary.members, summary.activity]);
        assert_eq!(summary.groups, groups_n as u64);
        assert_eq!(owner_lines, groups_n);
        for (g, (owner, _)) in &groups {
            let cap = if users[owner] { CREATOR_CAPACITY } else { NORMAL_CAPACITY };
            assert!(member_count[g] <= cap, "group {g} over capacity");
        }
        let total: u64 = counts.iter().sum();
        assert!(total <= 25 * groups_n as u64, "{total} lines is over budget");
        assert!(summary.activity > 0);
        let active_groups: HashSet<u64> = activity_keys.iter().map(|k| k.0).collect();
        assert!(active_groups.len() < groups.len(), "some groups should be silent");
    }

    #[test]
    fn owners_have_friends_and_respect_ownership_limits() {
        let (out, _, _) = run(&places(), 2000, 3);
        let text = String::from_utf8(out).expect("UTF-8 output");
        let mut creator: HashMap<u64, bool> = HashMap::new();
        let mut follows: HashSet<(u64, u64)> = HashSet::new();
        let mut owned: HashMap<u64, usize> = HashMap::new();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("JSON");
            match v["type"].as_str().expect("type") {
                "user" => {
                    creator.insert(v["id"].as_u64().expect("id"), v["tier"] == "creator");
                }
                "follow" => {
                    follows.insert((v["from"].as_u64().expect("from"), v["to"].as_u64().expect("to")));
                }
                "group" => *owned.entry(v["owner_id"].as_u64().expect("owner")).or_default() += 1,
                _ => {}
            }
        }
        for (&owner, &n) in &owned {
            let has_mutual = follows.iter().any(|&(a, b)| a == owner && follows.contains(&(b, a)));
            assert!(has_mutual, "owner {owner} has no mutual friend");
            let limit = if creator[&owner] { CREATOR_MAX_OWNED } else { NORMAL_MAX_OWNED };
            assert!(n <= limit as usize, "owner {owner} owns {n} groups");
        }
        assert!(follows.iter().any(|&(a, b)| !follows.contains(&(b, a))), "some follows are one-way");
    }

    #[test]
    fn world_has_realistic_structure() {
        let (out, summary, stats) = run(&places(), 2000, 11);
        let same_city = stats.same_city_members as f64 / stats.non_owner_members as f64;
        assert!(same_city > 0.75, "only {same_city:.2} of members share the group's city");
        let interest = stats.interest_members as f64 / stats.non_owner_members as f64;
        assert!(interest > 0.5, "only {interest:.2} of members share the group's category");
        let local_edges = stats.same_city_edges as f64 / stats.mutual_edges as f64;
        assert!(local_edges > 0.8, "only {local_edges:.2} of friendships are local");
        let degree = 2.0 * stats.mutual_edges as f64 / summary.users as f64;
        assert!((3.0..=8.0).contains(&degree), "mean mutual degree {degree:.2}");

        let text = String::from_utf8(out).expect("UTF-8 output");
        let mut sizes: HashMap<u64, usize> = HashMap::new();
        for line in text.lines().filter(|l| l.starts_with("{\"type\":\"member\"")) {
            let v: Value = serde_json::from_str(line).expect("JSON");
            *sizes.entry(v["group_id"].as_u64().expect("group")).or_default() += 1;
        }
        let mut s: Vec<usize> = sizes.values().copied().collect();
        s.sort_unstable();
        let median = s[s.len() / 2];
        let mean = s.iter().sum::<usize>() as f64 / s.len() as f64;
        assert!((4..=8).contains(&median), "median group size {median}");
        assert!((6.5..=12.0).contains(&mean), "mean group size {mean:.2}");
        let per_user = summary.members as f64 / summary.users as f64;
        assert!(per_user < 8.0, "users are in {per_user:.2} groups on average");
    }

    #[test]
    fn long_place_names_are_shortened_and_names_fit() {
        assert_eq!(display_short("大理白族", "大理白族自治州", None), "大理");
        assert_eq!(display_short("湘西土家族苗族", "湘西土家族苗族自治州", None), "湘西");
        assert_eq!(display_short("塔什库尔干塔吉克", "塔什库尔干塔吉克自治县", Some("喀什")), "塔什库尔干");
        assert_eq!(display_short("海淀", "海淀区", None), "海淀");
        assert_eq!(display_short("忠县", "忠县", None), "忠县");
        // The longest short names allowed must still give names of at most 30 characters.
        let five = "一二三四五";
        let fill = Fill { c: five, d: five, l: five, h: five, p: "", a: "", t: "", n: 9 };
        for cat in CATEGORIES {
            for t in cat.names {
                let mut name = String::new();
                expand(t, &fill, &mut name).expect("expand");
                let n = name.chars().count();
                assert!((2..=24).contains(&n), "template {t} gives {n} characters");
            }
        }
    }
}
