//! Reading what the learner said: words, the one worth reflecting back, the language, the
//! fillers. Heuristics only, tuned for spoken French as a speech-to-text engine writes it
//! (no punctuation at all is common, so nothing here depends on it).

/// Longest word (in characters) the coach will ever quote back. Longer "words" are noise
/// (a pasted URL, a run of letters) and are skipped.
const MAX_REFLECTED_CHARS: usize = 28;

/// One word (or `%` / `€`) of the learner's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// As typed, trimmed of leading/trailing apostrophes and hyphens.
    pub raw: String,
    /// `raw` without its elision (`l'Oréal` → `Oréal`), case kept.
    pub tail: String,
    /// Lower case, elision removed (`l'entreprise` → `entreprise`).
    pub word: String,
    /// Lower case, with the elision kept (`d'accord`), for the stop list.
    pub whole: String,
    /// First word of a sentence (its capital letter says nothing).
    pub sentence_start: bool,
}

/// What one learner message is, for the coach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Utterance {
    /// Nothing but spaces and punctuation.
    Empty,
    /// Mostly another language (English, or a non-Latin script).
    NotFrench,
    /// One or two words ("oui", "bof", "Lyon").
    Short { topic: Option<String> },
    /// A real answer; `topic` is what to quote back, if anything is worth it.
    Answer { topic: Option<String> },
}

/// Splits `text` into tokens: runs of letters/digits (apostrophes and hyphens inside a
/// word are kept), plus `%` and `€` on their own.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut sentence_start = true;
    let flush = |current: &mut String, sentence_start: &mut bool, tokens: &mut Vec<Token>| {
        let trimmed = current.trim_matches(is_joiner);
        if !trimmed.is_empty() {
            tokens.push(make_token(trimmed, *sentence_start));
            *sentence_start = false;
        }
        current.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || (is_joiner(c) && !current.is_empty()) {
            current.push(c);
            continue;
        }
        flush(&mut current, &mut sentence_start, &mut tokens);
        match c {
            '%' | '€' => {
                tokens.push(make_token(&c.to_string(), false));
            }
            '.' | '!' | '?' | '…' | '\n' | ':' => sentence_start = true,
            _ => {}
        }
    }
    flush(&mut current, &mut sentence_start, &mut tokens);
    tokens
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '’' | '-')
}

fn make_token(raw: &str, sentence_start: bool) -> Token {
    let whole: String = raw.to_lowercase().replace('’', "'");
    let word = match whole.rfind('\'') {
        Some(i) if !STOPWORDS.contains(&whole.as_str()) => whole[i + 1..].to_string(),
        _ => whole.clone(),
    };
    let raw = raw.replace('’', "'");
    let tail = match raw.rfind('\'') {
        Some(i) if word.len() < whole.len() => raw[i + 1..].to_string(),
        _ => raw.clone(),
    };
    Token {
        raw,
        tail,
        word,
        whole,
        sentence_start,
    }
}

/// Classifies the learner's last message and finds what to quote back from it.
pub(crate) fn analyse(text: &str) -> Utterance {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Utterance::Empty;
    }
    if !looks_french(text, &tokens) {
        return Utterance::NotFrench;
    }
    let topic = reflection(text, &tokens);
    let words = tokens
        .iter()
        .filter(|t| t.word.chars().any(char::is_alphabetic))
        .count();
    if words <= 2 {
        Utterance::Short { topic }
    } else {
        Utterance::Answer { topic }
    }
}

/// French, or close enough: a Latin script, and not clearly English.
pub(crate) fn looks_french(text: &str, tokens: &[Token]) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let latin = text
        .chars()
        .filter(|c| c.is_alphabetic() && is_latin(*c))
        .count();
    if letters > 0 && latin * 10 < letters * 7 {
        return false;
    }
    let french = tokens
        .iter()
        .filter(|t| FRENCH_MARKERS.contains(&t.word.as_str()) || t.whole.contains('\''))
        .count();
    let english = tokens
        .iter()
        .filter(|t| ENGLISH_MARKERS.contains(&t.whole.as_str()))
        .count();
    !(english >= 2 && english > french * 2)
}

fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic() || (('\u{C0}'..='\u{24F}').contains(&c) && c != '×' && c != '÷')
}

/// The word or short phrase the coach quotes back, in priority order:
/// 1. a name (a capitalised word that does not start a sentence: "Lyon", "Google", "SNCF");
/// 2. an amount of money or a percentage ("15 %", "9 000 euros");
/// 3. the longest noun (a content word right after a determiner: "la *cuisine*");
/// 4. another figure with its unit ("trois semaines", "3 ans");
/// 5. the longest content word that does not follow a subject pronoun or an auxiliary.
///
/// Content words are at least four letters long and not on the stop list.
pub(crate) fn reflection(text: &str, tokens: &[Token]) -> Option<String> {
    let has_lower = text.chars().any(char::is_lowercase);
    if has_lower {
        // The learner's own name ("je m'appelle Karim") is not a topic.
        let own_name = |i: usize| {
            i.checked_sub(1).is_some_and(|p| {
                ["appelle", "suis", "prénom", "nom"].contains(&tokens[p].word.as_str())
            })
        };
        let name = tokens
            .iter()
            .enumerate()
            .find(|(i, t)| is_name(t) && !own_name(*i));
        if let Some((_, name)) = name {
            return Some(name.tail.clone());
        }
    }
    let figure = figure(tokens);
    if let Some((figure, true)) = &figure {
        return Some(figure.clone());
    }
    let mut best_noun: Option<&Token> = None;
    let mut best_other: Option<&Token> = None;
    for (i, t) in tokens.iter().enumerate() {
        if !is_content(t) {
            continue;
        }
        let previous = i.checked_sub(1).map(|p| tokens[p].whole.as_str());
        let after_determiner = previous.is_some_and(|p| DETERMINERS.contains(&p))
            || t.whole.starts_with("l'")
            || t.whole.starts_with("d'");
        let after_subject = previous.is_some_and(|p| SUBJECTS.contains(&p))
            || t.whole.starts_with("j'")
            || t.whole.starts_with("n'");
        let longer = |best: Option<&Token>| {
            best.is_none_or(|b| t.word.chars().count() > b.word.chars().count())
        };
        if after_determiner {
            if longer(best_noun) {
                best_noun = Some(t);
            }
        } else if !after_subject && longer(best_other) {
            best_other = Some(t);
        }
    }
    best_noun
        .map(|t| t.word.clone())
        .or(figure.map(|(f, _)| f))
        .or(best_other.map(|t| t.word.clone()))
}

fn is_name(t: &Token) -> bool {
    let name = t.tail.as_str();
    let Some(first) = name.chars().next() else {
        return false;
    };
    let all_caps = name.chars().count() >= 2 && name.chars().all(|c| !c.is_lowercase());
    let capitalised = first.is_uppercase() && !t.sentence_start;
    (capitalised || (all_caps && name.chars().any(char::is_alphabetic)))
        && name.chars().count() <= MAX_REFLECTED_CHARS
        && name.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && !STOPWORDS.contains(&t.whole.as_str())
        && !STOPWORDS.contains(&t.word.as_str())
        && !FILLERS.contains(&t.word.as_str())
        && !ENGLISH_MARKERS.contains(&t.whole.as_str())
}

fn is_content(t: &Token) -> bool {
    let letters = t.word.chars().filter(|c| c.is_alphabetic()).count();
    let len = t.word.chars().count();
    letters >= 4
        && letters == t.word.chars().filter(|c| !is_joiner(*c)).count()
        && len <= MAX_REFLECTED_CHARS
        && !STOPWORDS.contains(&t.word.as_str())
        && !STOPWORDS.contains(&t.whole.as_str())
        && !FILLERS.contains(&t.word.as_str())
}

/// "9 000 euros", "15 %", "trois ans": a number (digits with French thousands groups
/// joined, or a number word) and its unit; `true` when the unit is money or a percentage.
fn figure(tokens: &[Token]) -> Option<(String, bool)> {
    let money = |unit: &str| MONEY_UNITS.contains(&unit);
    let is_digits = |t: &Token| !t.word.is_empty() && t.word.chars().all(|c| c.is_ascii_digit());
    let unit_after = |j: usize| tokens.get(j).filter(|t| UNITS.contains(&t.word.as_str()));
    let mut found: Vec<(String, bool)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if NUMBER_WORDS.contains(&tokens[i].word.as_str())
            && let Some(unit) = unit_after(i + 1)
        {
            found.push((
                format!("{} {}", tokens[i].word, unit.word),
                money(&unit.word),
            ));
        }
        if !is_digits(&tokens[i]) || tokens[i].word.len() > 9 {
            i += 1;
            continue;
        }
        let mut number = tokens[i].word.clone();
        let mut j = i + 1;
        while j < tokens.len() && is_digits(&tokens[j]) && tokens[j].word.len() == 3 {
            number.push(' ');
            number.push_str(&tokens[j].word);
            j += 1;
        }
        if let Some(unit) = unit_after(j) {
            found.push((format!("{number} {}", unit.word), money(&unit.word)));
        }
        i = j;
    }
    // Money first: in a negotiation, the price is what the other side hears.
    let first_money = found.iter().position(|(_, m)| *m);
    match first_money {
        Some(at) => Some(found.swap_remove(at)),
        None => found.into_iter().next(),
    }
}

/// Hesitation words and verbal tics, counted for the closing feedback.
pub(crate) fn fillers(text: &str) -> Vec<&'static str> {
    let tokens = tokenize(text);
    let mut found = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if let Some(f) = FILLERS.iter().find(|f| **f == t.word) {
            found.push(*f);
        }
        let next = tokens.get(i + 1).map(|n| n.word.as_str());
        match (t.word.as_str(), next) {
            ("du", Some("coup")) => found.push("du coup"),
            ("en", Some("fait")) => found.push("en fait"),
            _ => {}
        }
    }
    found
}

/// Words (letters or digits) in `text`.
pub(crate) fn word_count(text: &str) -> usize {
    tokenize(text)
        .iter()
        .filter(|t| t.word.chars().any(char::is_alphanumeric))
        .count()
}

const MONEY_UNITS: &[&str] = &["%", "€", "euros", "euro", "k€", "dollars"];

const UNITS: &[&str] = &[
    "%",
    "€",
    "euros",
    "euro",
    "k€",
    "dollars",
    "mois",
    "ans",
    "années",
    "jours",
    "semaines",
    "heures",
    "minutes",
    "personnes",
    "clients",
    "licences",
    "unités",
    "postes",
    "salariés",
];

const NUMBER_WORDS: &[&str] = &[
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "quinze",
    "vingt",
    "trente",
    "quarante",
    "cinquante",
    "soixante",
    "cent",
    "mille",
];

const FILLERS: &[&str] = &["euh", "heu", "hum", "bah", "ben", "genre", "bref", "hein"];

const DETERMINERS: &[&str] = &[
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "au",
    "aux",
    "mon",
    "ma",
    "mes",
    "ton",
    "ta",
    "tes",
    "son",
    "sa",
    "ses",
    "notre",
    "nos",
    "votre",
    "vos",
    "leur",
    "leurs",
    "ce",
    "cet",
    "cette",
    "ces",
    "quelques",
    "plusieurs",
    "chaque",
];

const SUBJECTS: &[&str] = &[
    "je",
    "tu",
    "il",
    "elle",
    "on",
    "nous",
    "vous",
    "ils",
    "elles",
    "ai",
    "as",
    "a",
    "avons",
    "avez",
    "ont",
    "suis",
    "es",
    "est",
    "sommes",
    "êtes",
    "sont",
    "pas",
    "ne",
    "me",
    "te",
    "se",
    "peux",
    "peut",
    "pouvez",
    "veux",
    "veut",
    "voulez",
    "dois",
    "doit",
    "devez",
    "vais",
    "va",
    "allez",
    "aime",
    "aimez",
    "adore",
    "préfère",
    "sais",
    "savez",
];

/// Words that say "this is French" (function words English does not share).
const FRENCH_MARKERS: &[&str] = &[
    "je", "tu", "il", "elle", "nous", "vous", "ils", "elles", "le", "la", "les", "un", "une",
    "des", "du", "et", "est", "suis", "sont", "ai", "avez", "pour", "avec", "dans", "sur", "que",
    "qui", "pas", "ne", "mais", "ou", "donc", "très", "mon", "ma", "mes", "votre", "vos",
    "bonjour", "merci", "oui", "non", "c'est", "ce", "cette", "aussi", "bien", "au", "aux",
];

/// Words that say "this is English" (none of them is also a French word).
const ENGLISH_MARKERS: &[&str] = &[
    "the", "and", "is", "are", "i", "you", "my", "your", "what", "this", "that", "with", "have",
    "has", "it's", "i'm", "don't", "we", "they", "to", "of", "for", "hello", "hi", "yes", "not",
    "was", "were", "be", "been", "it", "do", "does", "can", "would", "should", "about", "like",
    "just", "from", "there", "their", "how", "why", "where", "when", "who", "which", "work",
    "working", "thanks", "thank", "please", "good", "well",
];

/// Words never worth quoting back: function words, very common verbs, adverbs, politeness.
const STOPWORDS: &[&str] = &[
    // articles, pronouns, prepositions, conjunctions
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "au",
    "aux",
    "ce",
    "cet",
    "cette",
    "ces",
    "je",
    "tu",
    "il",
    "elle",
    "on",
    "nous",
    "vous",
    "ils",
    "elles",
    "me",
    "te",
    "se",
    "moi",
    "toi",
    "lui",
    "leur",
    "leurs",
    "eux",
    "mon",
    "ton",
    "son",
    "ma",
    "ta",
    "sa",
    "mes",
    "tes",
    "ses",
    "notre",
    "votre",
    "nos",
    "vos",
    "et",
    "ou",
    "mais",
    "donc",
    "car",
    "ni",
    "or",
    "que",
    "qui",
    "quoi",
    "dont",
    "où",
    "si",
    "comme",
    "quand",
    "lorsque",
    "puisque",
    "parce",
    "pour",
    "par",
    "avec",
    "sans",
    "dans",
    "chez",
    "sur",
    "sous",
    "entre",
    "vers",
    "depuis",
    "pendant",
    "avant",
    "après",
    "contre",
    "selon",
    "malgré",
    "envers",
    "parmi",
    "jusque",
    "jusqu'à",
    "celui",
    "celle",
    "ceux",
    "celles",
    "cela",
    "ceci",
    "ça",
    "lequel",
    "laquelle",
    "lesquels",
    "lesquelles",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "chaque",
    "plusieurs",
    "certains",
    "certaines",
    "aucun",
    "aucune",
    "autre",
    "autres",
    "même",
    "mêmes",
    "tout",
    "tous",
    "toute",
    "toutes",
    "rien",
    "personne",
    "quelqu'un",
    "quelque",
    "quelques",
    "chose",
    "choses",
    "aujourd'hui",
    "d'accord",
    "c'est-à-dire",
    "peut-être",
    "est-ce",
    "qu'est-ce",
    // être, avoir, aller, faire, pouvoir, vouloir, devoir, dire, savoir, penser, trouver…
    "être",
    "suis",
    "es",
    "est",
    "sommes",
    "êtes",
    "sont",
    "étais",
    "était",
    "étions",
    "étiez",
    "étaient",
    "été",
    "serai",
    "sera",
    "serons",
    "serez",
    "seront",
    "serais",
    "serait",
    "seraient",
    "sois",
    "soit",
    "soient",
    "avoir",
    "ai",
    "as",
    "avons",
    "avez",
    "ont",
    "avais",
    "avait",
    "avions",
    "aviez",
    "avaient",
    "aurai",
    "aura",
    "aurons",
    "aurez",
    "auront",
    "aurais",
    "aurait",
    "auraient",
    "eu",
    "aie",
    "ait",
    "aller",
    "vais",
    "va",
    "allons",
    "allez",
    "vont",
    "allais",
    "allait",
    "allé",
    "allée",
    "faire",
    "fais",
    "fait",
    "faisons",
    "faites",
    "font",
    "faisais",
    "faisait",
    "ferai",
    "fera",
    "ferais",
    "ferait",
    "pouvoir",
    "peux",
    "peut",
    "pouvons",
    "pouvez",
    "peuvent",
    "pouvais",
    "pouvait",
    "pourrais",
    "pourrait",
    "pourrions",
    "pourriez",
    "pu",
    "vouloir",
    "veux",
    "veut",
    "voulons",
    "voulez",
    "veulent",
    "voulais",
    "voulait",
    "voudrais",
    "voudrait",
    "voulu",
    "devoir",
    "dois",
    "doit",
    "devons",
    "devez",
    "doivent",
    "devais",
    "devait",
    "devrais",
    "devrait",
    "dû",
    "dire",
    "dis",
    "dit",
    "disons",
    "dites",
    "disent",
    "disais",
    "disait",
    "savoir",
    "sais",
    "sait",
    "savons",
    "savez",
    "savent",
    "savais",
    "savait",
    "penser",
    "pense",
    "penses",
    "pensons",
    "pensez",
    "pensent",
    "pensais",
    "pensait",
    "pensé",
    "crois",
    "croit",
    "croyez",
    "trouve",
    "trouvez",
    "trouvé",
    "trouver",
    "mettre",
    "mets",
    "met",
    "mis",
    "prendre",
    "prends",
    "prend",
    "pris",
    "venir",
    "viens",
    "vient",
    "venu",
    "venue",
    "voir",
    "vois",
    "voit",
    "voyez",
    "vu",
    "falloir",
    "faut",
    "fallait",
    "fallu",
    "aimer",
    "aime",
    "aimes",
    "aimons",
    "aimez",
    "aiment",
    "aimais",
    "aimerais",
    "aimerait",
    "adore",
    "adorez",
    "parler",
    "parle",
    "parlez",
    "parlé",
    "sembler",
    "semble",
    "passer",
    "passe",
    "passé",
    "donner",
    "donne",
    "donné",
    "rester",
    "reste",
    "resté",
    "avais",
    "connais",
    "connaît",
    "connaissez",
    "essayer",
    "essaie",
    "essaye",
    "essayé",
    "commencé",
    "continuer",
    "expliquer",
    "raconter",
    "répondre",
    "voilà",
    "voici",
    // adverbs and politeness
    "très",
    "trop",
    "plus",
    "moins",
    "assez",
    "beaucoup",
    "peu",
    "bien",
    "mal",
    "mieux",
    "aussi",
    "alors",
    "ainsi",
    "encore",
    "déjà",
    "toujours",
    "jamais",
    "souvent",
    "parfois",
    "ensuite",
    "puis",
    "enfin",
    "ici",
    "là",
    "maintenant",
    "hier",
    "demain",
    "tard",
    "tôt",
    "vite",
    "oui",
    "non",
    "merci",
    "bonjour",
    "bonsoir",
    "salut",
    "bon",
    "bonne",
    "bons",
    "bonnes",
    "vrai",
    "vraie",
    "plutôt",
    "surtout",
    "certes",
    "cependant",
    "pourtant",
    "toutefois",
    "néanmoins",
    "sinon",
    "quand",
    "comment",
    "pourquoi",
    "combien",
    "vraiment",
    "actuellement",
    "notamment",
    "également",
    "simplement",
    "seulement",
    "surtout",
    "justement",
    "particulièrement",
    "principalement",
    "généralement",
    "finalement",
    "évidemment",
    "absolument",
    "complètement",
    "totalement",
    "exactement",
    "forcément",
    "clairement",
    "rapidement",
    "facilement",
    "récemment",
    "personnellement",
    "honnêtement",
    "franchement",
    "directement",
    "normalement",
    "spécialement",
    "réellement",
    "largement",
    "entièrement",
    "certainement",
    "probablement",
    "naturellement",
    "énormément",
    "régulièrement",
    "longtemps",
    "vraiment",
    "tellement",
    "presque",
    "environ",
    "juste",
    "dernier",
    "dernière",
    "premier",
    "première",
    "petit",
    "petite",
    "grand",
    "grande",
    "gros",
    "nouveau",
    "nouvelle",
    "chose",
    "truc",
    "trucs",
    "machin",
    "façon",
    "manière",
    "sorte",
    "genre",
    "question",
    "réponse",
    "fois",
    "moment",
    "temps",
    "années",
    "année",
    "jour",
    "jours",
    "heures",
    "minutes",
    "exemple",
    "niveau",
    "sujet",
    "cas",
    "idée",
    "beaucoup",
    // the exercise's own words: quoting them back says nothing about the learner
    "présentation",
    "présentations",
    "intervention",
    "entretien",
    "conversation",
    "exercice",
    "séance",
    "coach",
    "négociation",
    "lieu",
    "fond",
    "part",
    "côté",
    "rapport",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(text: &str) -> Option<String> {
        match analyse(text) {
            Utterance::Answer { topic } | Utterance::Short { topic } => topic,
            _ => None,
        }
    }

    #[test]
    fn names_then_figures_then_nouns() {
        assert_eq!(
            topic("Je travaille chez Google depuis trois ans").as_deref(),
            Some("Google")
        );
        assert_eq!(
            topic("je peux descendre à 9 000 euros pas plus").as_deref(),
            Some("9 000 euros")
        );
        assert_eq!(
            topic("On peut faire 15% de remise").as_deref(),
            Some("15 %")
        );
        assert_eq!(
            topic("J'aime beaucoup la cuisine et je pratique souvent").as_deref(),
            Some("cuisine")
        );
        assert_eq!(
            topic("Je suis chez l'Oréal à Lyon").as_deref(),
            Some("Oréal")
        );
        assert_eq!(
            topic("Je m'appelle Karim, j'ai un master en finance").as_deref(),
            Some("master")
        );
        assert_eq!(
            topic("Nous livrons en trois semaines au lieu de six").as_deref(),
            Some("trois semaines")
        );
        assert_eq!(
            topic("Je m'occupe de l'organisation des événements").as_deref(),
            Some("organisation")
        );
    }

    #[test]
    fn a_sentence_start_capital_is_not_a_name() {
        assert_eq!(
            topic("Voyager me passionne depuis toujours").as_deref(),
            Some("voyager")
        );
    }

    #[test]
    fn classifies_empty_short_english_and_other_scripts() {
        assert_eq!(analyse("  ... !! "), Utterance::Empty);
        assert_eq!(analyse("oui"), Utterance::Short { topic: None });
        assert_eq!(
            analyse("I am working on my project and it is going well"),
            Utterance::NotFrench
        );
        assert_eq!(
            analyse("我喜欢学习法语，因为很有意思"),
            Utterance::NotFrench
        );
        assert!(matches!(
            analyse("Le projet avance bien"),
            Utterance::Answer { .. }
        ));
    }

    #[test]
    fn counts_fillers_and_words() {
        assert_eq!(
            fillers("euh je pense que du coup euh en fait"),
            ["euh", "du coup", "euh", "en fait"]
        );
        assert_eq!(word_count("l'équipe a 3 membres."), 4);
    }
}
