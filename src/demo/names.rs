//! Words the demo city is made of: common Kanazawa surnames and given names, parts of
//! association names, and circular titles per category.

use crate::domain::Category;

pub const SURNAMES: &[&str] = &[
    "山田",
    "田中",
    "中村",
    "山本",
    "小林",
    "林",
    "吉田",
    "松本",
    "北村",
    "西田",
    "中川",
    "山崎",
    "竹内",
    "坂本",
    "宮本",
    "村田",
    "前田",
    "高田",
    "上田",
    "松田",
    "清水",
    "森",
    "池田",
    "橋本",
    "石川",
    "藤井",
    "岡田",
    "川上",
    "谷口",
    "東",
    "浅田",
    "本田",
    "酒井",
    "野村",
    "長谷川",
    "新谷",
    "米田",
    "辻",
    "寺井",
    "道下",
];

pub const GIVEN_NAMES: &[&str] = &[
    "一郎",
    "健太",
    "大輔",
    "翔太",
    "誠",
    "茂",
    "博",
    "勇",
    "隆",
    "修",
    "和子",
    "洋子",
    "幸子",
    "恵子",
    "美香",
    "陽子",
    "さくら",
    "花子",
    "由美",
    "直美",
    "優子",
    "明美",
    "春樹",
    "悠斗",
    "結衣",
    "葵",
    "蓮",
    "陽菜",
    "千代",
    "トシ子",
];

/// Association names are the district's name and one of these, then 第N once they run out.
pub const ASSOCIATION_SUFFIXES: &[&str] = &[
    "一丁目",
    "二丁目",
    "三丁目",
    "四丁目",
    "五丁目",
    "東",
    "西",
    "南",
    "北",
    "中央",
    "本町",
    "新町",
    "上町",
    "下町",
    "団地",
    "台",
    "ヶ丘",
    "緑町",
    "桜町",
    "若葉",
    "旭町",
    "栄町",
    "幸町",
    "松原",
    "清水",
    "宮前",
    "川岸",
    "寺町",
    "新開",
    "青葉",
];

pub fn association_name(district: &str, index: usize) -> String {
    match ASSOCIATION_SUFFIXES.get(index) {
        Some(suffix) => format!("{district}{suffix}町会"),
        None => format!("{district}第{}町会", index + 1),
    }
}

/// Titles by category; `{m}` becomes the month.
pub fn titles(category: Category) -> &'static [&'static str] {
    match category {
        Category::Notice => &[
            "市報かなざわ{m}月号の回覧",
            "町会費納入のお願い",
            "防犯灯の点検について",
            "公民館だより{m}月号",
            "道路工事に伴う通行止めのお知らせ",
        ],
        Category::Event => &[
            "夏祭りのご案内",
            "敬老会のご案内",
            "クリーン作戦（一斉清掃）のお知らせ",
            "ラジオ体操会のご案内",
            "町会総会の開催について",
        ],
        Category::Disaster => &[
            "防災訓練のお知らせ",
            "大雨に伴う避難所開設のお知らせ",
            "消火器の点検について",
            "大雪時の除雪のお願い",
        ],
        Category::Garbage => &[
            "{m}月のごみ収集日程",
            "資源回収日の変更について",
            "ごみステーションの使い方のお願い",
        ],
        Category::Recruitment => &[
            "除雪ボランティア募集",
            "子ども見守り隊の募集",
            "祭り実行委員の募集",
        ],
        Category::Survey => &["秋の防災訓練 出欠のお願い"],
        Category::Other => &[
            "回覧板のデジタル化について",
            "町会ホームページ開設のお知らせ",
        ],
    }
}

pub const BODY: &str = "いつも町会活動にご協力いただきありがとうございます。\
詳しくは添付の資料をご覧ください。ご不明な点は町会長または班長までお問い合わせください。";

/// A district's annual drill; `{d}` becomes the district's name.
pub const DRILL_MESSAGE: &str = "【防災訓練】{d}校下の安否確認訓練です。\
ご家族の状況を「無事」か「要支援」でお答えください。";

/// The city-wide check after an earthquake.
pub const EARTHQUAKE_MESSAGE: &str = "石川県能登地方で強い地震がありました（金沢市 震度5弱）。\
ご家族の安否を「無事」か「要支援」でお知らせください。";

/// Notes of households that need help.
pub const HELP_NOTES: &[&str] = &[
    "足が不自由で避難所まで行けません",
    "常備薬が残りわずかです",
    "停電していて寒いです",
    "家具が倒れて出入口がふさがっています",
    "高齢の母が一人で家にいます",
    "断水しています",
];
