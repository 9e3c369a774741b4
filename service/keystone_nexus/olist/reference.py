"""Static reference data behind the synthetic Olist dataset.

Figures are approximations of the public Olist Brazilian e-commerce dataset
(Kaggle "olistbr/brazilian-ecommerce", orders from 2016-09 to 2018-10): row counts,
the 71 product categories with their English translations, shares per Brazilian state,
major cities per state (lower case, no accents, as the dataset spells them) with their
coordinates and postal code (CEP) prefix ranges, and the shapes of the order, payment
and review distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------- sizes

#: Rows (or distinct values) of the real dataset; `generate(scale=1.0)` matches these.
REAL_COUNTS: dict[str, int] = {
    "orders": 99_441,
    "unique_customers": 96_096,
    "order_items": 112_650,
    "payments": 103_886,
    "reviews": 99_224,
    "products": 32_951,
    "sellers": 3_095,
    "geolocation": 1_000_163,
    "zip_prefixes": 19_015,
}

# ----------------------------------------------------------------------- categories


@dataclass(frozen=True, slots=True)
class Category:
    name: str  # Portuguese, as in olist_products_dataset.csv
    english: str  # product_category_name_english (typos included, as in the dataset)
    products: int  # products in the category in the real dataset (a weight)
    median_price: float  # typical item price in BRL


# The order of product_category_name_translation.csv.
CATEGORIES: tuple[Category, ...] = (
    Category("beleza_saude", "health_beauty", 2444, 80.0),
    Category("informatica_acessorios", "computers_accessories", 1639, 70.0),
    Category("automotivo", "auto", 1900, 70.0),
    Category("cama_mesa_banho", "bed_bath_table", 3029, 80.0),
    Category("moveis_decoracao", "furniture_decor", 2657, 70.0),
    Category("esporte_lazer", "sports_leisure", 2867, 80.0),
    Category("perfumaria", "perfumery", 868, 80.0),
    Category("utilidades_domesticas", "housewares", 2335, 60.0),
    Category("telefonia", "telephony", 1134, 30.0),
    Category("relogios_presentes", "watches_gifts", 1329, 150.0),
    Category("alimentos_bebidas", "food_drink", 104, 35.0),
    Category("bebes", "baby", 919, 80.0),
    Category("papelaria", "stationery", 849, 50.0),
    Category("tablets_impressao_imagem", "tablets_printing_image", 9, 80.0),
    Category("brinquedos", "toys", 1411, 70.0),
    Category("telefonia_fixa", "fixed_telephony", 116, 60.0),
    Category("ferramentas_jardim", "garden_tools", 753, 60.0),
    Category("fashion_bolsas_e_acessorios", "fashion_bags_accessories", 849, 40.0),
    Category("eletroportateis", "small_appliances", 231, 130.0),
    Category("consoles_games", "consoles_games", 317, 50.0),
    Category("audio", "audio", 58, 60.0),
    Category("fashion_calcados", "fashion_shoes", 173, 80.0),
    Category("cool_stuff", "cool_stuff", 789, 120.0),
    Category("malas_acessorios", "luggage_accessories", 349, 130.0),
    Category("climatizacao", "air_conditioning", 124, 120.0),
    Category("construcao_ferramentas_construcao", "construction_tools_construction", 400, 80.0),
    Category(
        "moveis_cozinha_area_de_servico_jantar_e_jardim",
        "kitchen_dining_laundry_garden_furniture",
        94,
        140.0,
    ),
    Category("construcao_ferramentas_jardim", "costruction_tools_garden", 88, 80.0),
    Category("fashion_roupa_masculina", "fashion_male_clothing", 95, 70.0),
    Category("pet_shop", "pet_shop", 719, 60.0),
    Category("moveis_escritorio", "office_furniture", 309, 180.0),
    Category("market_place", "market_place", 104, 70.0),
    Category("eletronicos", "electronics", 517, 30.0),
    Category("eletrodomesticos", "home_appliances", 370, 60.0),
    Category("artigos_de_festas", "party_supplies", 26, 40.0),
    Category("casa_conforto", "home_confort", 111, 70.0),
    Category("construcao_ferramentas_ferramentas", "costruction_tools_tools", 39, 70.0),
    Category("agro_industria_e_comercio", "agro_industry_and_commerce", 74, 100.0),
    Category("moveis_colchao_e_estofado", "furniture_mattress_and_upholstery", 10, 110.0),
    Category("livros_tecnicos", "books_technical", 123, 60.0),
    Category("casa_construcao", "home_construction", 225, 70.0),
    Category("instrumentos_musicais", "musical_instruments", 289, 120.0),
    Category("moveis_sala", "furniture_living_room", 156, 100.0),
    Category("construcao_ferramentas_iluminacao", "construction_tools_lights", 78, 70.0),
    Category("industria_comercio_e_negocios", "industry_commerce_and_business", 68, 75.0),
    Category("alimentos", "food", 82, 30.0),
    Category("artes", "art", 55, 60.0),
    Category("moveis_quarto", "furniture_bedroom", 45, 100.0),
    Category("livros_interesse_geral", "books_general_interest", 216, 45.0),
    Category("construcao_ferramentas_seguranca", "construction_tools_safety", 91, 100.0),
    Category("fashion_underwear_e_moda_praia", "fashion_underwear_beach", 53, 35.0),
    Category("fashion_esporte", "fashion_sport", 19, 50.0),
    Category("sinalizacao_e_seguranca", "signaling_and_security", 93, 70.0),
    Category("pcs", "computers", 30, 1100.0),
    Category("artigos_de_natal", "christmas_supplies", 65, 40.0),
    Category("fashion_roupa_feminina", "fashio_female_clothing", 48, 50.0),
    Category("eletrodomesticos_2", "home_appliances_2", 90, 200.0),
    Category("livros_importados", "books_imported", 31, 55.0),
    Category("bebidas", "drinks", 81, 30.0),
    Category("cine_foto", "cine_photo", 28, 50.0),
    Category("la_cuisine", "la_cuisine", 10, 150.0),
    Category("musica", "music", 27, 50.0),
    Category("casa_conforto_2", "home_comfort_2", 5, 30.0),
    Category("portateis_casa_forno_e_cafe", "small_appliances_home_oven_and_coffee", 10, 450.0),
    Category("cds_dvds_musicais", "cds_dvds_musicals", 1, 50.0),
    Category("dvds_blu_ray", "dvds_blu_ray", 48, 45.0),
    Category("flores", "flowers", 14, 30.0),
    Category("artes_e_artesanato", "arts_and_craftmanship", 19, 30.0),
    Category("fraldas_higiene", "diapers_and_hygiene", 12, 40.0),
    Category("fashion_roupa_infanto_juvenil", "fashion_childrens_clothes", 5, 40.0),
    Category("seguros_e_servicos", "security_and_services", 2, 150.0),
)

#: Share of products with no category (and no name/description/photo figures).
UNCATEGORISED_PRODUCT_SHARE = 610 / 32_951

# --------------------------------------------------------------------------- states


@dataclass(frozen=True, slots=True)
class State:
    uf: str
    customers: int  # customers in the real dataset (a weight)
    sellers: int  # sellers in the real dataset (a weight)
    geolocation: int  # geolocation rows in the real dataset (a weight)
    delivery_days: float  # median days from purchase to delivery
    zip_ranges: tuple[tuple[int, int], ...]  # the state's CEP prefix ranges, inclusive


STATES: tuple[State, ...] = (
    State("SP", 41_746, 1_849, 404_268, 7.0, ((1_000, 19_999),)),
    State("RJ", 12_852, 171, 121_169, 12.0, ((20_000, 28_999),)),
    State("MG", 11_635, 244, 126_336, 10.0, ((30_000, 39_999),)),
    State("RS", 5_466, 129, 61_851, 13.0, ((90_000, 99_999),)),
    State("PR", 5_045, 349, 57_859, 10.0, ((80_000, 87_999),)),
    State("SC", 3_637, 190, 38_328, 13.0, ((88_000, 89_999),)),
    State("BA", 3_380, 19, 36_045, 16.0, ((40_000, 48_999),)),
    State("DF", 2_140, 30, 12_986, 11.0, ((70_000, 72_799), (73_000, 73_699))),
    State("ES", 2_033, 23, 16_748, 13.0, ((29_000, 29_999),)),
    State("GO", 2_020, 40, 20_139, 13.0, ((72_800, 72_999), (73_700, 76_799))),
    State("PE", 1_652, 9, 16_432, 16.0, ((50_000, 56_999),)),
    State("CE", 1_336, 13, 11_674, 18.0, ((60_000, 63_999),)),
    State("PA", 975, 1, 10_853, 20.0, ((66_000, 68_899),)),
    State("MT", 907, 4, 12_031, 15.0, ((78_000, 78_899),)),
    State("MA", 747, 1, 7_853, 18.0, ((65_000, 65_999),)),
    State("MS", 715, 5, 10_431, 13.0, ((79_000, 79_999),)),
    State("PB", 536, 6, 5_538, 17.0, ((58_000, 58_999),)),
    State("PI", 495, 1, 4_549, 16.0, ((64_000, 64_999),)),
    State("RN", 485, 5, 5_041, 17.0, ((59_000, 59_999),)),
    State("AL", 413, 0, 4_183, 20.0, ((57_000, 57_999),)),
    State("SE", 350, 2, 3_563, 19.0, ((49_000, 49_999),)),
    State("TO", 280, 0, 3_576, 15.0, ((77_000, 77_999),)),
    State("RO", 253, 2, 3_478, 17.0, ((76_800, 76_999),)),
    State("AM", 148, 1, 2_432, 24.0, ((69_000, 69_299), (69_400, 69_899))),
    State("AC", 81, 1, 1_301, 19.0, ((69_900, 69_999),)),
    State("AP", 68, 0, 853, 25.0, ((68_900, 68_999),)),
    State("RR", 46, 0, 646, 26.0, ((69_300, 69_399),)),
)

# --------------------------------------------------------------------------- cities


@dataclass(frozen=True, slots=True)
class City:
    name: str
    state: str
    lat: float
    lng: float
    weight: float  # relative share of the state's customers
    zip_ranges: tuple[tuple[int, int], ...]  # CEP prefix ranges, inclusive, disjoint


def _cities(state: str, *rows: tuple[str, float, float, float, int, int]) -> tuple[City, ...]:
    return tuple(City(n, state, la, ln, w, ((lo, hi),)) for n, la, ln, w, lo, hi in rows)


CITIES: tuple[City, ...] = (
    City("sao paulo", "SP", -23.55, -46.63, 15_540, ((1_000, 5_999), (8_000, 8_499))),
    *_cities(
        "SP",
        ("guarulhos", -23.46, -46.53, 1_189, 7_000, 7_399),
        ("campinas", -22.91, -47.06, 1_444, 13_000, 13_149),
        ("sao bernardo do campo", -23.69, -46.56, 938, 9_600, 9_899),
        ("santo andre", -23.66, -46.53, 797, 9_000, 9_299),
        ("osasco", -23.53, -46.79, 746, 6_000, 6_299),
        ("santos", -23.96, -46.33, 713, 11_000, 11_099),
        ("sao jose dos campos", -23.18, -45.89, 691, 12_200, 12_249),
        ("sorocaba", -23.50, -47.46, 633, 18_000, 18_109),
        ("jundiai", -23.19, -46.88, 565, 13_200, 13_219),
        ("ribeirao preto", -21.18, -47.81, 510, 14_000, 14_114),
        ("barueri", -23.51, -46.88, 433, 6_400, 6_499),
        ("mogi das cruzes", -23.52, -46.19, 383, 8_700, 8_899),
        ("piracicaba", -22.73, -47.65, 352, 13_400, 13_429),
        ("sao caetano do sul", -23.62, -46.57, 300, 9_500, 9_599),
        ("carapicuiba", -23.52, -46.84, 280, 6_300, 6_399),
        ("bauru", -22.32, -49.07, 270, 17_000, 17_109),
        ("sao jose do rio preto", -20.82, -49.38, 260, 15_000, 15_099),
        ("diadema", -23.69, -46.62, 250, 9_900, 9_999),
        ("taboao da serra", -23.62, -46.79, 240, 6_750, 6_799),
        ("maua", -23.67, -46.46, 230, 9_300, 9_399),
        ("indaiatuba", -23.09, -47.22, 230, 13_330, 13_349),
        ("praia grande", -24.01, -46.41, 220, 11_700, 11_729),
        ("cotia", -23.60, -46.92, 210, 6_700, 6_729),
        ("taubate", -23.03, -45.56, 200, 12_000, 12_099),
        ("suzano", -23.54, -46.31, 190, 8_600, 8_699),
        ("sao vicente", -23.96, -46.39, 180, 11_300, 11_399),
        ("guaruja", -23.99, -46.26, 160, 11_400, 11_499),
        ("sao carlos", -22.02, -47.89, 160, 13_560, 13_579),
        ("americana", -22.74, -47.33, 160, 13_465, 13_479),
        ("limeira", -22.56, -47.40, 150, 13_480, 13_489),
        ("franca", -20.54, -47.40, 140, 14_400, 14_414),
        ("araraquara", -21.79, -48.18, 140, 14_800, 14_811),
        ("presidente prudente", -22.12, -51.39, 130, 19_000, 19_099),
        ("valinhos", -22.97, -46.99, 130, 13_270, 13_279),
        ("marilia", -22.21, -49.95, 120, 17_500, 17_529),
        ("atibaia", -23.12, -46.55, 110, 12_940, 12_954),
    ),
    *_cities(
        "RJ",
        ("rio de janeiro", -22.91, -43.21, 6_882, 20_000, 23_799),
        ("niteroi", -22.88, -43.10, 849, 24_000, 24_399),
        ("nova iguacu", -22.76, -43.45, 435, 26_000, 26_099),
        ("sao goncalo", -22.83, -43.05, 380, 24_400, 24_799),
        ("duque de caxias", -22.79, -43.31, 300, 25_000, 25_299),
        ("petropolis", -22.51, -43.18, 230, 25_600, 25_799),
        ("campos dos goytacazes", -21.75, -41.32, 200, 28_000, 28_099),
        ("volta redonda", -22.52, -44.10, 180, 27_200, 27_299),
        ("sao joao de meriti", -22.80, -43.37, 150, 25_500, 25_599),
        ("belford roxo", -22.76, -43.40, 140, 26_100, 26_199),
        ("macae", -22.37, -41.79, 140, 27_900, 27_999),
        ("teresopolis", -22.41, -42.97, 120, 25_950, 25_999),
        ("cabo frio", -22.88, -42.02, 110, 28_900, 28_939),
        ("nova friburgo", -22.28, -42.53, 100, 28_600, 28_639),
        ("resende", -22.47, -44.45, 80, 27_500, 27_549),
        ("angra dos reis", -23.01, -44.32, 60, 23_900, 23_949),
    ),
    *_cities(
        "MG",
        ("belo horizonte", -19.92, -43.94, 2_773, 30_000, 31_999),
        ("juiz de fora", -21.76, -43.35, 427, 36_000, 36_099),
        ("contagem", -19.93, -44.05, 424, 32_000, 32_399),
        ("uberlandia", -18.92, -48.28, 375, 38_400, 38_415),
        ("betim", -19.97, -44.20, 250, 32_500, 32_699),
        ("montes claros", -16.73, -43.86, 200, 39_400, 39_409),
        ("uberaba", -19.75, -47.93, 200, 38_000, 38_099),
        ("divinopolis", -20.14, -44.89, 160, 35_500, 35_504),
        ("governador valadares", -18.85, -41.95, 150, 35_000, 35_099),
        ("pocos de caldas", -21.79, -46.56, 140, 37_700, 37_719),
        ("ipatinga", -19.47, -42.54, 130, 35_160, 35_164),
        ("sete lagoas", -19.46, -44.25, 120, 35_700, 35_704),
        ("varginha", -21.55, -45.43, 110, 37_000, 37_119),
        ("nova lima", -19.98, -43.85, 110, 34_000, 34_019),
        ("ribeirao das neves", -19.77, -44.09, 100, 33_800, 33_999),
        ("pouso alegre", -22.23, -45.94, 100, 37_550, 37_559),
        ("lavras", -21.25, -45.00, 90, 37_200, 37_209),
        ("santa luzia", -19.77, -43.85, 80, 33_000, 33_199),
        ("vespasiano", -19.69, -43.92, 60, 33_200, 33_299),
        ("barbacena", -21.22, -43.77, 70, 36_200, 36_209),
        ("patos de minas", -18.58, -46.52, 70, 38_700, 38_709),
        ("itajuba", -22.43, -45.45, 60, 37_500, 37_509),
        ("conselheiro lafaiete", -20.66, -43.79, 60, 36_400, 36_409),
        ("vicosa", -20.75, -42.88, 50, 36_570, 36_579),
        ("teofilo otoni", -17.86, -41.51, 50, 39_800, 39_809),
        ("ouro preto", -20.39, -43.50, 40, 35_400, 35_409),
        ("uba", -21.12, -42.94, 40, 36_500, 36_509),
    ),
    *_cities(
        "RS",
        ("porto alegre", -30.03, -51.23, 1_379, 90_000, 91_999),
        ("caxias do sul", -29.17, -51.18, 300, 95_000, 95_124),
        ("canoas", -29.92, -51.18, 250, 92_000, 92_479),
        ("pelotas", -31.77, -52.34, 230, 96_000, 96_099),
        ("santa maria", -29.69, -53.81, 220, 97_000, 97_119),
        ("novo hamburgo", -29.68, -51.13, 200, 93_300, 93_599),
        ("passo fundo", -28.26, -52.41, 150, 99_000, 99_099),
        ("gravatai", -29.94, -50.99, 150, 94_000, 94_279),
        ("sao leopoldo", -29.76, -51.15, 120, 93_000, 93_179),
        ("viamao", -30.08, -51.02, 100, 94_400, 94_799),
        ("rio grande", -32.03, -52.10, 90, 96_200, 96_219),
        ("santa cruz do sul", -29.72, -52.43, 90, 96_800, 96_849),
        ("bento goncalves", -29.17, -51.52, 80, 95_700, 95_709),
        ("alvorada", -29.99, -51.08, 80, 94_800, 94_879),
        ("cachoeirinha", -29.95, -51.09, 80, 94_900, 94_999),
        ("erechim", -27.63, -52.27, 60, 99_700, 99_709),
        ("lajeado", -29.47, -51.96, 60, 95_900, 95_914),
        ("uruguaiana", -29.75, -57.09, 40, 97_500, 97_509),
        ("ijui", -28.39, -53.91, 40, 98_700, 98_709),
        ("santo angelo", -28.30, -54.26, 30, 98_800, 98_809),
    ),
    *_cities(
        "PR",
        ("curitiba", -25.43, -49.27, 1_521, 80_000, 82_999),
        ("londrina", -23.31, -51.16, 300, 86_000, 86_099),
        ("maringa", -23.42, -51.94, 280, 87_000, 87_099),
        ("ponta grossa", -25.09, -50.16, 150, 84_000, 84_099),
        ("cascavel", -24.96, -53.46, 130, 85_800, 85_824),
        ("sao jose dos pinhais", -25.53, -49.21, 130, 83_000, 83_149),
        ("foz do iguacu", -25.55, -54.59, 100, 85_850, 85_874),
        ("colombo", -25.29, -49.22, 80, 83_400, 83_414),
        ("guarapuava", -25.39, -51.46, 70, 85_000, 85_099),
        ("pinhais", -25.44, -49.19, 60, 83_320, 83_349),
        ("paranagua", -25.52, -48.51, 50, 83_200, 83_239),
        ("araucaria", -25.59, -49.41, 50, 83_700, 83_729),
        ("toledo", -24.72, -53.74, 50, 85_900, 85_919),
        ("apucarana", -23.55, -51.46, 40, 86_800, 86_819),
        ("campo largo", -25.46, -49.53, 40, 83_600, 83_609),
        ("umuarama", -23.77, -53.32, 30, 87_500, 87_509),
        ("francisco beltrao", -26.08, -53.05, 30, 85_600, 85_609),
        ("cambe", -23.28, -51.28, 30, 86_180, 86_199),
        ("arapongas", -23.42, -51.42, 30, 86_700, 86_709),
        ("fazenda rio grande", -25.66, -49.31, 30, 83_820, 83_839),
    ),
    *_cities(
        "SC",
        ("florianopolis", -27.59, -48.55, 570, 88_000, 88_099),
        ("joinville", -26.30, -48.85, 400, 89_200, 89_239),
        ("blumenau", -26.92, -49.07, 300, 89_000, 89_099),
        ("sao jose", -27.61, -48.63, 200, 88_100, 88_124),
        ("itajai", -26.91, -48.66, 150, 88_300, 88_319),
        ("balneario camboriu", -26.99, -48.63, 150, 88_330, 88_339),
        ("criciuma", -28.68, -49.37, 130, 88_800, 88_819),
        ("chapeco", -27.10, -52.62, 110, 89_800, 89_816),
        ("palhoca", -27.64, -48.67, 100, 88_130, 88_139),
        ("jaragua do sul", -26.49, -49.07, 90, 89_250, 89_269),
        ("lages", -27.82, -50.33, 70, 88_500, 88_529),
        ("brusque", -27.10, -48.92, 60, 88_350, 88_359),
        ("tubarao", -28.47, -49.01, 50, 88_700, 88_709),
        ("camboriu", -27.02, -48.65, 40, 88_340, 88_349),
        ("biguacu", -27.49, -48.66, 40, 88_160, 88_164),
        ("navegantes", -26.90, -48.65, 40, 88_370, 88_379),
        ("concordia", -27.23, -52.03, 30, 89_700, 89_709),
        ("rio do sul", -27.21, -49.64, 30, 89_160, 89_165),
        ("sao bento do sul", -26.25, -49.38, 25, 89_280, 89_289),
        ("cacador", -26.78, -51.01, 25, 89_500, 89_509),
        ("itapema", -27.09, -48.61, 30, 88_220, 88_229),
        ("gaspar", -26.93, -48.96, 25, 89_110, 89_119),
        ("indaial", -26.90, -49.23, 25, 89_130, 89_139),
        ("timbo", -26.82, -49.27, 20, 89_120, 89_129),
        ("sao francisco do sul", -26.24, -48.64, 20, 89_240, 89_249),
        ("mafra", -26.11, -49.80, 20, 89_300, 89_309),
        ("ararangua", -28.94, -49.49, 20, 88_900, 88_909),
        ("videira", -27.01, -51.15, 15, 89_560, 89_569),
        ("joacaba", -27.17, -51.50, 15, 89_600, 89_609),
        ("xanxere", -26.88, -52.40, 15, 89_820, 89_829),
        ("laguna", -28.48, -48.78, 15, 88_790, 88_799),
        ("imbituba", -28.24, -48.67, 15, 88_780, 88_789),
        ("canoinhas", -26.18, -50.39, 15, 89_460, 89_469),
        ("sao miguel do oeste", -26.73, -53.52, 15, 89_900, 89_909),
    ),
    *_cities(
        "BA",
        ("salvador", -12.97, -38.50, 1_245, 40_000, 42_599),
        ("feira de santana", -12.27, -38.97, 200, 44_000, 44_099),
        ("lauro de freitas", -12.89, -38.33, 150, 42_700, 42_709),
        ("vitoria da conquista", -14.86, -40.84, 130, 45_000, 45_099),
        ("camacari", -12.70, -38.32, 100, 42_800, 42_849),
        ("itabuna", -14.79, -39.28, 80, 45_600, 45_613),
        ("ilheus", -14.79, -39.05, 70, 45_650, 45_659),
        ("juazeiro", -9.42, -40.50, 60, 48_900, 48_909),
        ("barreiras", -12.15, -45.00, 60, 47_800, 47_809),
        ("porto seguro", -16.45, -39.06, 60, 45_810, 45_819),
        ("teixeira de freitas", -17.54, -39.74, 60, 45_985, 45_999),
        ("jequie", -13.86, -40.08, 50, 45_200, 45_209),
        ("alagoinhas", -12.14, -38.42, 40, 48_000, 48_099),
        ("luis eduardo magalhaes", -12.09, -45.79, 40, 47_850, 47_869),
        ("simoes filho", -12.78, -38.40, 30, 43_700, 43_709),
        ("eunapolis", -16.37, -39.58, 30, 45_820, 45_829),
        ("paulo afonso", -9.40, -38.21, 30, 48_600, 48_609),
        ("santo antonio de jesus", -12.97, -39.26, 30, 44_570, 44_579),
    ),
    *_cities(
        "DF",
        ("brasilia", -15.79, -47.88, 2_131, 70_000, 71_799),
        ("riacho fundo", -15.88, -48.02, 10, 71_800, 71_899),
        ("aguas claras", -15.84, -48.03, 60, 71_900, 71_999),
        ("taguatinga", -15.83, -48.06, 80, 72_000, 72_199),
        ("ceilandia", -15.82, -48.11, 40, 72_200, 72_299),
        ("samambaia", -15.88, -48.09, 30, 72_300, 72_399),
        ("gama", -16.02, -48.06, 30, 72_400, 72_499),
        ("santa maria", -16.01, -48.01, 15, 72_500, 72_599),
        ("recanto das emas", -15.91, -48.06, 15, 72_600, 72_699),
        ("sobradinho", -15.65, -47.79, 30, 73_000, 73_099),
        ("planaltina", -15.62, -47.65, 20, 73_300, 73_399),
    ),
    *_cities(
        "ES",
        ("vitoria", -20.32, -40.34, 359, 29_000, 29_099),
        ("vila velha", -20.33, -40.29, 300, 29_100, 29_129),
        ("serra", -20.13, -40.31, 200, 29_160, 29_189),
        ("cariacica", -20.26, -40.42, 120, 29_140, 29_158),
        ("cachoeiro de itapemirim", -20.85, -41.11, 70, 29_300, 29_319),
        ("linhares", -19.39, -40.07, 50, 29_900, 29_914),
        ("guarapari", -20.67, -40.50, 50, 29_200, 29_229),
        ("colatina", -19.54, -40.63, 40, 29_700, 29_709),
        ("sao mateus", -18.72, -39.86, 30, 29_930, 29_949),
        ("aracruz", -19.82, -40.27, 25, 29_190, 29_199),
    ),
    *_cities(
        "GO",
        ("goiania", -16.68, -49.25, 692, 74_000, 74_899),
        ("aparecida de goiania", -16.82, -49.24, 150, 74_900, 74_999),
        ("anapolis", -16.33, -48.95, 120, 75_000, 75_149),
        ("rio verde", -17.80, -50.93, 60, 75_900, 75_909),
        ("luziania", -16.25, -47.95, 40, 72_800, 72_859),
        ("novo gama", -16.06, -48.04, 20, 72_860, 72_869),
        ("valparaiso de goias", -16.07, -47.98, 40, 72_870, 72_879),
        ("aguas lindas de goias", -15.76, -48.28, 30, 72_910, 72_919),
        ("trindade", -16.65, -49.49, 30, 75_380, 75_389),
        ("formosa", -15.54, -47.33, 30, 73_800, 73_814),
        ("catalao", -18.17, -47.94, 30, 75_700, 75_709),
        ("itumbiara", -18.42, -49.22, 30, 75_500, 75_529),
        ("jatai", -17.88, -51.71, 25, 75_800, 75_809),
        ("senador canedo", -16.71, -49.09, 25, 75_250, 75_264),
        ("caldas novas", -17.74, -48.62, 25, 75_690, 75_699),
    ),
    *_cities(
        "PE",
        ("recife", -8.05, -34.88, 613, 50_000, 52_999),
        ("jaboatao dos guararapes", -8.11, -35.01, 150, 54_000, 54_499),
        ("olinda", -8.01, -34.85, 120, 53_000, 53_299),
        ("caruaru", -8.28, -35.97, 70, 55_000, 55_099),
        ("petrolina", -9.39, -40.50, 70, 56_300, 56_339),
        ("paulista", -7.94, -34.87, 60, 53_400, 53_439),
        ("cabo de santo agostinho", -8.29, -35.03, 30, 54_500, 54_599),
        ("camaragibe", -8.02, -34.98, 30, 54_700, 54_799),
        ("garanhuns", -8.89, -36.49, 30, 55_290, 55_299),
        ("vitoria de santo antao", -8.12, -35.29, 20, 55_600, 55_619),
    ),
    *_cities(
        "CE",
        ("fortaleza", -3.73, -38.53, 654, 60_000, 61_599),
        ("caucaia", -3.74, -38.65, 60, 61_600, 61_699),
        ("juazeiro do norte", -7.21, -39.32, 50, 63_000, 63_099),
        ("maracanau", -3.87, -38.63, 50, 61_900, 61_939),
        ("sobral", -3.69, -40.35, 40, 62_000, 62_119),
        ("crato", -7.23, -39.41, 25, 63_100, 63_139),
        ("eusebio", -3.89, -38.45, 25, 61_760, 61_769),
        ("itapipoca", -3.49, -39.58, 15, 62_500, 62_509),
        ("iguatu", -6.36, -39.30, 15, 63_500, 63_509),
        ("quixada", -4.97, -39.02, 15, 63_900, 63_909),
    ),
    *_cities(
        "PA",
        ("belem", -1.46, -48.49, 445, 66_000, 66_999),
        ("ananindeua", -1.37, -48.37, 100, 67_000, 67_199),
        ("santarem", -2.44, -54.71, 60, 68_000, 68_109),
        ("maraba", -5.37, -49.12, 60, 68_500, 68_509),
        ("castanhal", -1.30, -47.92, 40, 68_740, 68_749),
        ("parauapebas", -6.07, -49.90, 40, 68_515, 68_516),
        ("altamira", -3.20, -52.21, 25, 68_370, 68_379),
        ("itaituba", -4.28, -55.98, 15, 68_180, 68_189),
        ("braganca", -1.05, -46.77, 15, 68_600, 68_609),
        ("abaetetuba", -1.72, -48.88, 15, 68_440, 68_444),
        ("barcarena", -1.51, -48.62, 15, 68_445, 68_449),
    ),
    *_cities(
        "MT",
        ("cuiaba", -15.60, -56.10, 300, 78_000, 78_109),
        ("varzea grande", -15.65, -56.13, 100, 78_110, 78_159),
        ("rondonopolis", -16.47, -54.64, 80, 78_700, 78_759),
        ("sinop", -11.86, -55.51, 70, 78_550, 78_559),
        ("tangara da serra", -14.62, -57.49, 40, 78_300, 78_309),
        ("lucas do rio verde", -13.06, -55.91, 30, 78_455, 78_459),
        ("sorriso", -12.55, -55.71, 30, 78_890, 78_899),
        ("primavera do leste", -15.56, -54.30, 30, 78_850, 78_859),
        ("caceres", -16.07, -57.68, 25, 78_200, 78_209),
        ("barra do garcas", -15.89, -52.26, 20, 78_600, 78_609),
    ),
    *_cities(
        "MA",
        ("sao luis", -2.53, -44.30, 300, 65_000, 65_109),
        ("imperatriz", -5.52, -47.48, 120, 65_900, 65_919),
        ("timon", -5.09, -42.84, 40, 65_630, 65_639),
        ("caxias", -4.86, -43.36, 40, 65_600, 65_609),
        ("sao jose de ribamar", -2.56, -44.05, 40, 65_110, 65_114),
        ("acailandia", -4.95, -47.50, 25, 65_930, 65_939),
        ("balsas", -7.53, -46.04, 25, 65_800, 65_809),
        ("bacabal", -4.22, -44.78, 20, 65_700, 65_709),
        ("santa ines", -3.67, -45.38, 15, 65_300, 65_309),
        ("codo", -4.45, -43.89, 15, 65_400, 65_409),
    ),
    *_cities(
        "MS",
        ("campo grande", -20.46, -54.62, 450, 79_000, 79_129),
        ("dourados", -22.22, -54.81, 100, 79_800, 79_849),
        ("tres lagoas", -20.79, -51.70, 60, 79_600, 79_639),
        ("corumba", -19.01, -57.65, 30, 79_300, 79_339),
        ("ponta pora", -22.54, -55.73, 25, 79_900, 79_909),
        ("navirai", -23.07, -54.19, 15, 79_950, 79_959),
        ("nova andradina", -22.23, -53.34, 15, 79_750, 79_759),
        ("aquidauana", -20.47, -55.79, 15, 79_200, 79_209),
    ),
    *_cities(
        "PB",
        ("joao pessoa", -7.12, -34.86, 300, 58_000, 58_099),
        ("campina grande", -7.23, -35.88, 120, 58_400, 58_439),
        ("patos", -7.02, -37.28, 25, 58_700, 58_709),
        ("santa rita", -7.11, -34.98, 20, 58_300, 58_304),
        ("bayeux", -7.13, -34.93, 20, 58_305, 58_309),
        ("cabedelo", -6.98, -34.83, 20, 58_100, 58_109),
        ("sousa", -6.76, -38.23, 15, 58_800, 58_809),
        ("cajazeiras", -6.89, -38.56, 15, 58_900, 58_909),
        ("guarabira", -6.85, -35.49, 10, 58_200, 58_209),
    ),
    *_cities(
        "PI",
        ("teresina", -5.09, -42.80, 330, 64_000, 64_099),
        ("parnaiba", -2.90, -41.78, 40, 64_200, 64_219),
        ("picos", -7.08, -41.47, 30, 64_600, 64_609),
        ("floriano", -6.77, -43.02, 20, 64_800, 64_809),
        ("piripiri", -4.27, -41.78, 15, 64_260, 64_269),
        ("campo maior", -4.83, -42.17, 10, 64_280, 64_289),
    ),
    *_cities(
        "RN",
        ("natal", -5.79, -35.21, 300, 59_000, 59_139),
        ("parnamirim", -5.91, -35.26, 80, 59_140, 59_159),
        ("mossoro", -5.19, -37.34, 80, 59_600, 59_649),
        ("sao goncalo do amarante", -5.79, -35.33, 15, 59_290, 59_299),
        ("caico", -6.46, -37.10, 15, 59_300, 59_309),
        ("macaiba", -5.86, -35.35, 10, 59_280, 59_289),
        ("ceara-mirim", -5.63, -35.42, 10, 59_570, 59_579),
        ("currais novos", -6.26, -36.52, 10, 59_380, 59_389),
    ),
    *_cities(
        "AL",
        ("maceio", -9.67, -35.74, 300, 57_000, 57_099),
        ("arapiraca", -9.75, -36.66, 60, 57_300, 57_319),
        ("rio largo", -9.48, -35.85, 15, 57_100, 57_109),
        ("palmeira dos indios", -9.41, -36.63, 15, 57_600, 57_609),
        ("penedo", -10.29, -36.58, 10, 57_200, 57_209),
        ("sao miguel dos campos", -9.78, -36.09, 10, 57_240, 57_249),
        ("uniao dos palmares", -9.16, -36.03, 10, 57_800, 57_809),
    ),
    *_cities(
        "SE",
        ("aracaju", -10.91, -37.07, 250, 49_000, 49_099),
        ("nossa senhora do socorro", -10.86, -37.13, 30, 49_160, 49_169),
        ("lagarto", -10.92, -37.65, 15, 49_400, 49_409),
        ("itabaiana", -10.69, -37.43, 15, 49_500, 49_509),
        ("sao cristovao", -11.01, -37.21, 10, 49_100, 49_109),
        ("estancia", -11.27, -37.44, 10, 49_200, 49_209),
        ("tobias barreto", -11.18, -38.00, 5, 49_300, 49_309),
    ),
    *_cities(
        "TO",
        ("palmas", -10.18, -48.33, 150, 77_000, 77_299),
        ("araguaina", -7.19, -48.21, 60, 77_800, 77_829),
        ("gurupi", -11.73, -49.07, 30, 77_400, 77_439),
        ("porto nacional", -10.71, -48.42, 15, 77_500, 77_509),
        ("paraiso do tocantins", -10.18, -48.88, 10, 77_600, 77_609),
        ("colinas do tocantins", -8.06, -48.48, 8, 77_760, 77_769),
        ("guarai", -8.83, -48.51, 5, 77_700, 77_709),
    ),
    *_cities(
        "RO",
        ("porto velho", -8.76, -63.90, 120, 76_800, 76_834),
        ("ji-parana", -10.88, -61.95, 40, 76_900, 76_919),
        ("ariquemes", -9.91, -63.04, 25, 76_870, 76_879),
        ("vilhena", -12.74, -60.15, 25, 76_980, 76_989),
        ("cacoal", -11.44, -61.45, 20, 76_960, 76_969),
        ("rolim de moura", -11.73, -61.78, 10, 76_940, 76_949),
        ("jaru", -10.44, -62.47, 8, 76_890, 76_899),
        ("guajara-mirim", -10.78, -65.34, 5, 76_850, 76_859),
    ),
    *_cities(
        "AM",
        ("manaus", -3.12, -60.02, 130, 69_000, 69_099),
        ("itacoatiara", -3.14, -58.44, 8, 69_100, 69_109),
        ("parintins", -2.63, -56.74, 8, 69_150, 69_159),
        ("manacapuru", -3.30, -60.62, 6, 69_400, 69_409),
        ("coari", -4.08, -63.14, 3, 69_460, 69_469),
        ("tefe", -3.35, -64.71, 3, 69_470, 69_479),
        ("tabatinga", -4.25, -69.94, 3, 69_640, 69_649),
    ),
    *_cities(
        "AC",
        ("rio branco", -9.97, -67.81, 70, 69_900, 69_923),
        ("cruzeiro do sul", -7.63, -72.67, 10, 69_980, 69_989),
        ("sena madureira", -9.07, -68.66, 3, 69_940, 69_949),
        ("tarauaca", -8.16, -70.77, 2, 69_970, 69_979),
    ),
    *_cities(
        "AP",
        ("macapa", 0.03, -51.07, 60, 68_900, 68_911),
        ("laranjal do jari", -0.80, -52.45, 2, 68_920, 68_924),
        ("santana", -0.06, -51.18, 8, 68_925, 68_929),
    ),
    *_cities(
        "RR",
        ("boa vista", 2.82, -60.67, 45, 69_300, 69_339),
        ("caracarai", 1.82, -61.13, 2, 69_360, 69_369),
        ("rorainopolis", 0.95, -60.42, 2, 69_373, 69_379),
    ),
)

# --------------------------------------------------------------------------- orders

#: Purchases per calendar month in the real dataset: ((year, month), orders).
MONTHLY_ORDERS: tuple[tuple[tuple[int, int], int], ...] = (
    ((2016, 9), 4),
    ((2016, 10), 324),
    ((2016, 11), 1),
    ((2016, 12), 1),
    ((2017, 1), 800),
    ((2017, 2), 1_780),
    ((2017, 3), 2_682),
    ((2017, 4), 2_404),
    ((2017, 5), 3_700),
    ((2017, 6), 3_245),
    ((2017, 7), 4_026),
    ((2017, 8), 4_331),
    ((2017, 9), 4_285),
    ((2017, 10), 4_631),
    ((2017, 11), 7_544),
    ((2017, 12), 5_673),
    ((2018, 1), 7_269),
    ((2018, 2), 6_728),
    ((2018, 3), 7_211),
    ((2018, 4), 6_939),
    ((2018, 5), 6_873),
    ((2018, 6), 6_167),
    ((2018, 7), 6_292),
    ((2018, 8), 6_512),
    ((2018, 9), 16),
    ((2018, 10), 4),
)
FIRST_PURCHASE = "2016-09-04 21:15:19"
LAST_PURCHASE = "2018-10-17 17:30:18"

#: Relative purchases per hour of the day, 00h to 23h.
HOURLY_ORDERS: tuple[int, ...] = (
    2394, 1170, 510, 272, 206, 188, 502, 1231, 3000, 4785, 6177, 6578,
    5995, 6518, 6569, 6454, 6675, 6150, 5769, 5982, 6193, 6217, 5816, 4123,
)  # fmt: skip

ORDER_STATUS: dict[str, float] = {
    "delivered": 96_478,
    "shipped": 1_107,
    "canceled": 625,
    "unavailable": 609,
    "invoiced": 314,
    "processing": 301,
    "created": 5,
    "approved": 2,
}

#: P(an order has k items), k = 1..6 (orders that have items at all).
ITEMS_PER_ORDER: tuple[float, ...] = (0.899, 0.0765, 0.0140, 0.0055, 0.0023, 0.0027)

# ------------------------------------------------------------------------- payments

#: The main way an order is paid (one row each); vouchers may be added on top.
PRIMARY_PAYMENT: dict[str, float] = {
    "credit_card": 0.7722,
    "boleto": 0.1990,
    "debit_card": 0.0154,
    "voucher": 0.0134,
}
#: Share of credit-card and voucher orders that also use extra voucher rows.
VOUCHER_SPLIT_SHARE = 0.038
#: Relative frequency of 1..24 installments among credit-card payments.
INSTALLMENTS: tuple[int, ...] = (
    25_455, 12_413, 10_461, 7_098, 5_239, 3_920, 1_626, 4_268, 644, 5_328, 23, 133,
    16, 15, 74, 5, 8, 27, 9, 17, 3, 1, 1, 18,
)  # fmt: skip

# -------------------------------------------------------------------------- reviews

#: P(score = 1..5) by how the order went.
REVIEW_SCORES: dict[str, tuple[float, ...]] = {
    "on_time": (0.070, 0.025, 0.080, 0.205, 0.620),
    "late": (0.430, 0.080, 0.120, 0.120, 0.250),
    "not_delivered": (0.750, 0.060, 0.070, 0.040, 0.080),
}
#: P(a review has a title / a message) for score = 1..5.
REVIEW_TITLE_SHARE: tuple[float, ...] = (0.17, 0.16, 0.13, 0.10, 0.10)
REVIEW_MESSAGE_SHARE: tuple[float, ...] = (0.80, 0.75, 0.50, 0.30, 0.33)
#: Share of orders with no review, and of orders with a second review.
UNREVIEWED_SHARE = 768 / 99_441
SECOND_REVIEW_SHARE = 551 / 99_441

REVIEW_TITLES: dict[str, tuple[str, ...]] = {
    "good": (
        "Recomendo",
        "Super recomendo",
        "Ótimo",
        "Muito bom",
        "Excelente",
        "Perfeito",
        "Amei",
        "Ótimo produto",
    ),
    "neutral": ("Bom", "Razoável", "Regular", "Poderia ser melhor"),
    "bad": (
        "Não recebi",
        "Péssimo",
        "Produto com defeito",
        "Decepcionada",
        "Não recomendo",
        "Atraso na entrega",
    ),
}
REVIEW_MESSAGES: dict[str, tuple[str, ...]] = {
    "good": (
        "Produto chegou antes do prazo, recomendo.",
        "Muito bom, recomendo!",
        "Entrega rápida e produto de ótima qualidade.",
        "Tudo certo, chegou dentro do prazo.",
        "Amei o produto, superou minhas expectativas.",
        "Ótimo vendedor, produto conforme anunciado.",
        "Recebi bem antes do prazo estipulado.",
        "Excelente! Comprarei novamente.",
        "Produto de qualidade, bem embalado.",
        "Gostei muito, chegou rápido.",
        "Lindo, exatamente como na foto.",
        "Parabéns à loja, atendimento nota 10.",
    ),
    "neutral": (
        "Produto bom, mas a entrega demorou um pouco.",
        "Razoável, esperava mais pela qualidade.",
        "O produto é bom, porém veio com a embalagem danificada.",
        "Chegou no prazo, mas a cor é diferente da foto.",
        "Atendeu parcialmente às minhas expectativas.",
        "É menor do que eu imaginava.",
    ),
    "bad": (
        "Ainda não recebi o produto.",
        "Produto não foi entregue e ninguém responde.",
        "Veio com defeito, quero devolver.",
        "Recebi o produto errado.",
        "Péssimo, a entrega atrasou muito.",
        "Comprei dois produtos e só recebi um.",
        "Não recomendo, qualidade muito ruim.",
        "Produto diferente do anunciado.",
        "Paguei e até agora nada, quero meu dinheiro de volta.",
    ),
}
