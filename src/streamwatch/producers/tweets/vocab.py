"""Word lists the synthetic tweet generator draws from.

Kept apart from the generator so the data can grow without touching the logic.
Sentences exist per language and per sentiment class. VADER is English-centric,
so non-English sentences get their polarity mostly from the emoji the
generator appends (VADER reads emoji as their English descriptions) — that is
deliberate: the processor then sees sentiment spread in every language.
"""

from __future__ import annotations

# lang -> share of users who tweet in it (English dominates, as on X)
LANGUAGES: dict[str, float] = {
    "en": 0.55, "es": 0.12, "pt": 0.09, "fr": 0.08, "de": 0.08, "ja": 0.08,
}

SENTIMENTS: dict[str, float] = {"positive": 0.40, "neutral": 0.30, "negative": 0.30}

# Proper nouns work in every language's sentences.
TOPICS: tuple[str, ...] = (
    "Spark", "Kafka", "Python", "Kubernetes", "Flink", "Postgres", "Rust", "Linux",
    "Grafana", "Prometheus", "Docker", "Arrow", "Iceberg", "Delta Lake", "Airflow",
    "DuckDB", "Pandas", "Jupyter", "Scala", "Java 21", "FC Porto", "Olympique",
    "Bayern", "Boca", "Tokyo Marathon", "Eurovision", "Glastonbury", "Roland Garros",
)

SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "positive": (
            "Loving the new {topic} release, absolutely brilliant!",
            "{topic} just made my day. Great work everyone!",
            "So happy with how {topic} turned out, awesome job",
            "Best {topic} update in years, really impressed",
            "What a fantastic talk about {topic}, thank you!",
            "{topic} is amazing, I love it",
            "Huge win for {topic} today, congrats to the team :)",
            "Really enjoying {topic}, smooth and fast. Excellent!",
        ),
        "neutral": (
            "Reading the {topic} docs this afternoon",
            "{topic} meetup is on Thursday at 6pm",
            "Anyone else trying {topic} this week?",
            "Notes from the {topic} session are posted",
            "Switching our pipeline to {topic} next sprint",
            "{topic} version notes are out",
            "Watching the {topic} stream now",
            "Moving the {topic} cluster to a new region",
        ),
        "negative": (
            "{topic} crashed again, this is terrible",
            "Really disappointed with {topic} today. Awful experience",
            "I hate how slow {topic} has become",
            "{topic} outage ruined my evening, so frustrating",
            "Worst {topic} update ever, everything is broken",
            "Sad news about {topic}, what a mess",
            "{topic} keeps failing and nobody cares. Ugh!",
            "Angry about the {topic} bug, lost a whole day",
        ),
    },
    "es": {
        "positive": (
            "¡Me encanta el nuevo {topic}, es genial!",
            "{topic} me alegró el día, excelente trabajo",
            "Qué buena charla sobre {topic}, gracias",
            "Increíble lo rápido que va {topic}",
        ),
        "neutral": (
            "Leyendo la documentación de {topic} esta tarde",
            "La reunión de {topic} es el jueves",
            "¿Alguien más probando {topic} esta semana?",
            "Migramos a {topic} el próximo sprint",
        ),
        "negative": (
            "{topic} falló otra vez, qué desastre",
            "Muy decepcionado con {topic} hoy",
            "Odio lo lento que está {topic}",
            "La caída de {topic} me arruinó la noche",
        ),
    },
    "pt": {
        "positive": (
            "Adorei o novo {topic}, muito bom!",
            "{topic} salvou o meu dia, parabéns à equipe",
            "Que palestra incrível sobre {topic}",
            "Estou muito feliz com o {topic}",
        ),
        "neutral": (
            "Lendo a documentação do {topic} hoje",
            "O encontro de {topic} é na quinta-feira",
            "Alguém testando {topic} esta semana?",
            "Vamos migrar para {topic} no próximo sprint",
        ),
        "negative": (
            "{topic} caiu de novo, que droga",
            "Muito decepcionado com {topic} hoje",
            "Odeio como {topic} ficou lento",
            "A falha do {topic} estragou minha noite",
        ),
    },
    "fr": {
        "positive": (
            "J'adore la nouvelle version de {topic}, génial !",
            "{topic} a illuminé ma journée, bravo à l'équipe",
            "Superbe présentation sur {topic}, merci",
            "Vraiment content de {topic}, rapide et fiable",
        ),
        "neutral": (
            "Je lis la documentation de {topic} cet après-midi",
            "Le meetup {topic} a lieu jeudi",
            "Quelqu'un teste {topic} cette semaine ?",
            "On passe à {topic} au prochain sprint",
        ),
        "negative": (
            "{topic} a encore planté, c'est nul",
            "Très déçu par {topic} aujourd'hui",
            "Je déteste la lenteur de {topic}",
            "La panne de {topic} a gâché ma soirée",
        ),
    },
    "de": {
        "positive": (
            "Ich liebe das neue {topic}, einfach super!",
            "{topic} hat meinen Tag gerettet, tolle Arbeit",
            "Großartiger Vortrag über {topic}, danke",
            "Wirklich begeistert von {topic}",
        ),
        "neutral": (
            "Lese heute Nachmittag die {topic} Doku",
            "Das {topic} Meetup ist am Donnerstag",
            "Testet noch jemand {topic} diese Woche?",
            "Wir wechseln im nächsten Sprint zu {topic}",
        ),
        "negative": (
            "{topic} ist schon wieder abgestürzt, furchtbar",
            "Sehr enttäuscht von {topic} heute",
            "Ich hasse, wie langsam {topic} geworden ist",
            "Der {topic} Ausfall hat meinen Abend ruiniert",
        ),
    },
    "ja": {
        "positive": (
            "{topic}の新しいリリース最高!",
            "{topic}のおかげで今日は良い一日でした",
            "{topic}の発表、素晴らしかったです",
            "{topic}がとても速くて感動",
        ),
        "neutral": (
            "今日は{topic}のドキュメントを読んでいます",
            "{topic}の勉強会は木曜日です",
            "今週{topic}を試している人いますか",
            "次のスプリントで{topic}に移行します",
        ),
        "negative": (
            "{topic}がまた落ちた、最悪",
            "今日の{topic}には本当にがっかり",
            "{topic}が遅すぎてつらい",
            "{topic}の障害で夜が台無し",
        ),
    },
}

# VADER scores emoji through their descriptions, so these carry polarity into
# every language; only emoji whose descriptions VADER scores are listed.
EMOJI: dict[str, tuple[str, ...]] = {
    "positive": ("😍", "🎉", "😊", "😀", "🥳"),
    "neutral": ("👀", "📅", "🤔", "📝"),
    "negative": ("😞", "😢", "😠", "😭"),
}

# Hashtag words; the generator combines them with suffixes into a few hundred
# tags and ranks them by a seeded shuffle, so the head of the Zipf curve
# differs per seed.
TAG_WORDS: tuple[str, ...] = (
    "spark", "streaming", "bigdata", "dataengineering", "python", "kafka", "flink",
    "kubernetes", "docker", "cloud", "ai", "ml", "datascience", "analytics", "devops",
    "opensource", "rust", "golang", "java", "scala", "sql", "postgres", "linux",
    "grafana", "observability", "sre", "security", "startup", "tech", "coding",
    "football", "soccer", "nba", "tennis", "f1", "olympics", "marathon", "cycling",
    "music", "concert", "festival", "movies", "netflix", "gaming", "esports", "anime",
    "travel", "food", "coffee", "weather", "climate", "news", "elections", "economy",
    "crypto", "fintech", "health", "fitness", "books", "art", "photography", "science",
    "space", "nasa", "launch", "mondaymotivation", "tbt", "fridayfeeling", "weekend",
    "summer", "winter", "blackfriday", "hackathon", "meetup", "conference", "keynote",
    "release", "outage", "bug", "jobs", "remote", "career", "education", "history",
)

TAG_SUFFIXES: tuple[str, ...] = ("", "2026", "live", "news", "fans", "day", "week", "life")

# Non-ASCII tags so the processor's NFKC + casefold normalisation is exercised;
# "straße" casefolds to "strasse", the full-width form NFKC-folds to "spark".
NON_ASCII_TAGS: tuple[str, ...] = (
    "café", "fútbol", "München", "São_Paulo", "東京", "ラーメン", "Ελλάδα", "straße",
    "Montréal", "naïve", "Zürich", "año2026",
)
FULLWIDTH_SPARK = "\uff53\uff50\uff41\uff52\uff4b"  # full-width "spark"

USER_SYLLABLES: tuple[str, ...] = (
    "ada", "lin", "mo", "ra", "ki", "ta", "no", "el", "ian", "sa", "vo", "lu", "be",
    "ri", "ko", "ma", "zu", "fe", "do", "ni", "ga", "ol", "ha", "ji", "pe", "ys",
)
