"""Industrial areas of the Zhejiang default, following the province's city–industry map.

The parks named in DESIGN §6 are placed at their real locations with their published areas;
the other industrial areas are placed at the real industrial districts of the cities the
province's documents name for each industry.  Locations are approximate (about 1 km) and areas
marked ``assumed`` are not from a published source.  The facilities placed in them
(:mod:`gridcarbon.scenario.zhejiang_inventory`) are synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Park", "INDUSTRIAL_PARKS", "PORTS"]


@dataclass(frozen=True)
class Park:
    """An industrial area: where synthetic facilities of some sectors are placed."""

    key: str
    name: str
    name_zh: str
    county_code: str
    lon: float
    lat: float
    area_km2: float
    area_source: str
    sectors: tuple[str, ...]

    @property
    def city_code(self) -> str:
        """Prefecture-city administrative code."""
        return self.county_code[:4] + "00"


INDUSTRIAL_PARKS: tuple[Park, ...] = (
    Park(
        "zhenhai",
        "Ningbo Petrochemical Economic and Technological Development Zone (Zhenhai)",
        "宁波石化经济技术开发区",
        "330211",
        121.640,
        29.985,
        42.5,
        "DESIGN §6",
        ("industry_petrochemical", "industry_chemical", "power"),
    ),
    Park(
        "zhapu",
        "Jiaxing Port Area (Zhapu, Pinghu)",
        "嘉兴港区",
        "330482",
        121.080,
        30.615,
        54.28,
        "DESIGN §6",
        ("industry_chemical", "industry_paper", "power"),
    ),
    Park(
        "toumen",
        "Taizhou Bay pharmaceutical-chemical park (Toumen Port, Linhai)",
        "台州湾头门港医化园区",
        "331082",
        121.575,
        28.705,
        17.1,
        "DESIGN §6",
        ("industry_chemical",),
    ),
    Park(
        "shangyu",
        "Shangyu Hangzhou Bay fine-chemical park",
        "杭州湾上虞经济技术开发区",
        "330604",
        120.860,
        30.165,
        30.0,
        "assumed",
        ("industry_chemical", "industry_textile"),
    ),
    Park(
        "daishan",
        "Zhoushan green petrochemical base (Daishan)",
        "舟山绿色石化基地",
        "330921",
        122.160,
        30.250,
        41.0,
        "assumed",
        ("industry_petrochemical", "power"),
    ),
    Park(
        "beilun",
        "Beilun coastal industrial area (Ningbo)",
        "北仑临港工业区",
        "330206",
        121.840,
        29.925,
        40.0,
        "assumed",
        ("industry_steel", "power"),
    ),
    Park(
        "quzhou",
        "Quzhou high-tech industrial area",
        "衢州高新技术产业园区",
        "330802",
        118.905,
        28.985,
        35.0,
        "assumed",
        ("industry_steel", "industry_chemical", "industry_paper"),
    ),
    Park(
        "jiande",
        "Jiande cement area (Hangzhou)",
        "建德水泥产业区",
        "330182",
        119.290,
        29.480,
        20.0,
        "assumed",
        ("industry_cement",),
    ),
    Park(
        "fuyang",
        "Fuyang industrial area (Hangzhou)",
        "富阳工业区",
        "330111",
        119.940,
        30.050,
        20.0,
        "assumed",
        ("industry_cement", "industry_paper"),
    ),
    Park(
        "changxing",
        "Changxing cement and power area (Huzhou)",
        "长兴工业区",
        "330522",
        119.905,
        31.010,
        25.0,
        "assumed",
        ("industry_cement", "power"),
    ),
    Park(
        "tongxiang",
        "Tongxiang textile area (Jiaxing)",
        "桐乡纺织产业区",
        "330483",
        120.560,
        30.625,
        20.0,
        "assumed",
        ("industry_textile",),
    ),
    Park(
        "haining",
        "Haining industrial area (Jiaxing)",
        "海宁工业区",
        "330481",
        120.690,
        30.510,
        20.0,
        "assumed",
        ("industry_textile", "industry_paper"),
    ),
    Park(
        "keqiao",
        "Keqiao textile and dyeing area (Shaoxing)",
        "柯桥纺织印染产业区",
        "330603",
        120.490,
        30.085,
        30.0,
        "assumed",
        ("industry_textile",),
    ),
    Park(
        "jiaojiang",
        "Jiaojiang chemical area (Taizhou)",
        "椒江医化园区",
        "331002",
        121.470,
        28.700,
        15.0,
        "assumed",
        ("industry_chemical", "power"),
    ),
    Park(
        "longwan",
        "Longwan electroplating area (Wenzhou)",
        "龙湾电镀园区",
        "330303",
        120.790,
        27.930,
        10.0,
        "assumed",
        ("industry_other",),
    ),
    Park(
        "leqing",
        "Leqing coastal power area (Wenzhou)",
        "乐清湾临港区",
        "330382",
        121.030,
        28.150,
        10.0,
        "assumed",
        ("power",),
    ),
    Park(
        "lanxi",
        "Lanxi industrial area (Jinhua)",
        "兰溪工业区",
        "330781",
        119.480,
        29.230,
        12.0,
        "assumed",
        ("power", "industry_other"),
    ),
    Park(
        "xiaoshan",
        "Xiaoshan industrial area (Hangzhou)",
        "萧山经济技术开发区",
        "330109",
        120.300,
        30.170,
        30.0,
        "assumed",
        ("industry_other", "industry_textile", "power"),
    ),
    Park(
        "yiwu",
        "Yiwu industrial area (Jinhua)",
        "义乌工业园区",
        "330782",
        120.100,
        29.330,
        15.0,
        "assumed",
        ("industry_other",),
    ),
    Park(
        "liuheng",
        "Liuheng island power area (Zhoushan)",
        "六横临港产业区",
        "330903",
        122.130,
        29.740,
        10.0,
        "assumed",
        ("power",),
    ),
)

#: Main ports (lon, lat, relative weight) for the shipping/port proxy.
PORTS: tuple[tuple[str, float, float, float], ...] = (
    ("Ningbo-Zhoushan (Beilun)", 121.86, 29.93, 1.0),
    ("Ningbo-Zhoushan (Jintang/Daxie)", 121.95, 29.95, 0.6),
    ("Zhoushan (Shenjiamen)", 122.30, 29.95, 0.4),
    ("Jiaxing (Zhapu)", 121.10, 30.60, 0.3),
    ("Taizhou (Haimen)", 121.50, 28.68, 0.2),
    ("Wenzhou (Zhuangyuan'ao)", 121.02, 27.99, 0.2),
)
