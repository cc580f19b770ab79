use super::*;
use proptest::prelude::*;

const MARIE: &str = "Tu es Marie, une coach en communication experte et bienveillante. \
    Sois encourageante et positive, pose des questions pour engager la conversation.";
const THOMAS: &str = "Tu es Thomas, expert en présentation et prise de parole en public. \
    Tu aides les utilisateurs à structurer leurs présentations et gagner en assurance.";
const RECRUITER: &str = "Tu es Marie. Rôle : recruteur professionnel. Simulation d'entretien \
    d'embauche, formelle mais bienveillante.";
const AUDIENCE: &str = "Tu es Marie, dans le rôle d'une audience engagée : questions et \
    feedback pendant la présentation.";
const NEGOTIATION: &str = "Négociation d'un contrat commercial avec Thomas : l'utilisateur \
    doit défendre sa position tout en maintenant la relation.";
const FIRST_IMPRESSION: &str = "Première impression professionnelle : vous rencontrez Marie \
    lors d'un événement networking.";

/// A conversation where the learner gives these answers, the coach answering each time.
fn converse(system: &str, answers: &[&str], seed: Option<u64>) -> (Vec<Message>, Vec<Reply>) {
    let mut messages = vec![Message::system(system)];
    let mut replies = Vec::new();
    let first = reply(&messages, seed);
    messages.push(Message::assistant(first.text.clone()));
    replies.push(first);
    for answer in answers {
        messages.push(Message::user(*answer));
        let r = reply(&messages, seed);
        messages.push(Message::assistant(r.text.clone()));
        replies.push(r);
    }
    (messages, replies)
}

const ANSWERS: &[&str] = &[
    "Je m'appelle Claire, je travaille dans la logistique depuis huit ans.",
    "Ce qui me motive, c'est l'organisation des équipes et les défis quotidiens.",
    "Par exemple, l'année dernière j'ai réorganisé tout l'entrepôt de Lyon.",
    "Parfois je manque de patience, mais j'apprends à déléguer davantage.",
    "Je me vois encadrer une équipe plus grande, avec plus de responsabilités.",
    "Merci beaucoup pour cet échange !",
];

#[test]
fn detects_characters_and_exercises_from_eloquence_prompts() {
    let cases = [
        (MARIE, Character::Marie, Exercise::FreeConversation),
        ("", Character::Marie, Exercise::FreeConversation),
        (THOMAS, Character::Thomas, Exercise::Presentation),
        (RECRUITER, Character::Recruiter, Exercise::Interview),
        (AUDIENCE, Character::Audience, Exercise::Presentation),
        (NEGOTIATION, Character::Thomas, Exercise::Negotiation),
        (
            FIRST_IMPRESSION,
            Character::Marie,
            Exercise::FirstImpression,
        ),
        (
            "Conversation libre avec Marie",
            Character::Marie,
            Exercise::FreeConversation,
        ),
        (
            "NEGOCIATION COMMERCIALE",
            Character::Thomas,
            Exercise::Negotiation,
        ),
        (
            "Tu es Marie et tu fais passer un entretien",
            Character::Recruiter,
            Exercise::Interview,
        ),
    ];
    for (prompt, character, exercise) in cases {
        assert_eq!(
            detect(prompt),
            Setting {
                character,
                exercise
            },
            "{prompt:?}"
        );
    }
    // "Marie" inside another word is not Marie.
    assert_eq!(
        detect("Mariette prépare une présentation").character,
        Character::Thomas
    );
}

#[test]
fn phases_go_greeting_questions_closing_then_over() {
    let (_, replies) = converse(MARIE, ANSWERS, Some(7));
    let phases: Vec<Phase> = replies.iter().map(|r| r.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::Greeting,
            Phase::Question,
            Phase::Question,
            Phase::Question,
            Phase::Question,
            Phase::Closing,
            Phase::Closing,
        ]
    );
    assert!(replies[0].text.contains("Marie"), "{}", replies[0].text);
    let closing = &replies[5].text;
    assert!(
        scripts::MARIE_FREE
            .closings
            .iter()
            .any(|c| closing.starts_with(c)),
        "{closing}"
    );
    // The session-over line after the closing, not a second closing.
    assert!(
        scripts::MARIE_FREE
            .after_close
            .contains(&replies[6].text.as_str())
    );
}

#[test]
fn greets_and_reacts_when_the_learner_speaks_first() {
    let r = reply(
        &[
            Message::system(MARIE),
            Message::user("J'adore la photographie de rue"),
        ],
        Some(1),
    );
    assert_eq!(r.phase, Phase::Greeting);
    assert!(r.text.contains("« photographie »"), "{}", r.text);
    assert!(r.text.ends_with('?'), "{}", r.text);
}

#[test]
fn reflects_the_learners_words() {
    let cases = [
        (
            MARIE,
            "J'aime beaucoup la cuisine italienne et les marchés",
            "« cuisine »",
        ),
        (
            RECRUITER,
            "J'ai travaillé cinq ans chez Airbus comme technicienne",
            "« Airbus »",
        ),
        (
            NEGOTIATION,
            "Je peux descendre à 9 000 euros, pas plus",
            "« 9 000 euros »",
        ),
        (
            AUDIENCE,
            "Ma présentation parle de la transition énergétique",
            "« transition »",
        ),
    ];
    for (system, said, expected) in cases {
        let messages = [
            Message::system(system),
            Message::assistant("Bonjour !"),
            Message::user(said),
        ];
        let r = reply(&messages, Some(3));
        assert_eq!(r.phase, Phase::Question);
        assert!(r.text.contains(expected), "{said:?} → {}", r.text);
    }
}

#[test]
fn handles_empty_short_and_english_input() {
    let base = |said: &str| {
        reply(
            &[
                Message::system(MARIE),
                Message::assistant("Bonjour !"),
                Message::user(said),
            ],
            Some(5),
        )
    };
    let empty = base("   ");
    assert!(
        scripts::NOT_HEARD.contains(&empty.text.as_str()),
        "{}",
        empty.text
    );
    let short = base("oui");
    assert!(
        scripts::TOO_SHORT.iter().any(|s| short.text.starts_with(s)),
        "{}",
        short.text
    );
    let english = base("I don't really know what to say, this is hard for me");
    assert!(english.text.contains("français"), "{}", english.text);
    let chinese = base("我喜欢学习法语");
    assert!(chinese.text.contains("français"), "{}", chinese.text);
}

#[test]
fn same_messages_and_seed_give_the_same_reply() {
    let messages = [
        Message::system(THOMAS),
        Message::assistant("Bonjour"),
        Message::user("Je présente notre nouveau produit aux investisseurs"),
    ];
    assert_eq!(reply(&messages, Some(42)), reply(&messages, Some(42)));
    assert_eq!(reply(&messages, None), reply(&messages, None));
    assert_eq!(
        conversation_seed(&messages),
        conversation_seed(&messages.clone())
    );
    // The seed does pick among variants.
    let texts: std::collections::HashSet<String> =
        (0..20).map(|s| reply(&messages, Some(s)).text).collect();
    assert!(texts.len() > 1);
}

#[test]
fn no_question_is_asked_twice_in_a_conversation() {
    for system in [
        MARIE,
        THOMAS,
        RECRUITER,
        AUDIENCE,
        NEGOTIATION,
        FIRST_IMPRESSION,
    ] {
        for seed in [None, Some(0), Some(1), Some(99)] {
            let (_, replies) = converse(system, ANSWERS, seed);
            let script = script(detect(system));
            for question in script.questions.iter().flat_map(|s| s.iter()) {
                let times = replies.iter().filter(|r| r.text.contains(question)).count();
                assert!(times <= 1, "{system:?} asked {question:?} {times} times");
            }
            // And every greeting and question turn does ask one.
            for r in replies.iter().filter(|r| r.phase != Phase::Closing) {
                let asks = script
                    .questions
                    .iter()
                    .flat_map(|s| s.iter())
                    .any(|q| r.text.contains(q));
                assert!(asks, "{}", r.text);
            }
        }
    }
}

#[test]
fn stays_in_character() {
    let (_, interview) = converse(RECRUITER, ANSWERS, Some(11));
    assert!(
        interview
            .iter()
            .all(|r| r.character == Character::Recruiter)
    );
    let interview_words = [
        "poste",
        "parcours",
        "présenter",
        "motive",
        "qualités",
        "difficulté",
        "amélioration",
        "équipe",
        "salaire",
    ];
    let on_topic = interview
        .iter()
        .filter(|r| interview_words.iter().any(|w| r.text.contains(w)))
        .count();
    assert!(on_topic >= 4, "{interview:#?}");
    let (_, negotiation) = converse(NEGOTIATION, ANSWERS, Some(11));
    let pushback = negotiation
        .iter()
        .filter(|r| {
            ["prix", "tarif", "remise", "délais", "paiement", "cher"]
                .iter()
                .any(|w| r.text.contains(w))
        })
        .count();
    assert!(pushback >= 3, "{negotiation:#?}");
    let (_, audience) = converse(AUDIENCE, ANSWERS, Some(11));
    assert!(audience[0].text.contains("présentation") || audience[0].text.contains("intervention"));
}

#[test]
fn closing_feedback_notices_hesitations_and_short_answers() {
    let hesitant = [
        "euh je euh travaille",
        "euh oui euh voilà",
        "bah euh je sais pas",
        "euh non",
        "euh bon",
    ];
    let (_, replies) = converse(MARIE, &hesitant, Some(2));
    assert!(replies[5].text.contains("« euh »"), "{}", replies[5].text);
    let terse = ["oui", "non", "Paris", "peut-être", "bof"];
    let (_, replies) = converse(MARIE, &terse, Some(2));
    assert!(
        replies[5].text.contains(scripts::FEEDBACK_SHORT),
        "{}",
        replies[5].text
    );
}

#[test]
fn replies_are_short_and_never_empty() {
    let long_word = "a".repeat(500);
    let long_answer = "Je voudrais vous parler longuement de la gastronomie lyonnaise ".repeat(40);
    for system in [
        MARIE,
        THOMAS,
        RECRUITER,
        AUDIENCE,
        NEGOTIATION,
        FIRST_IMPRESSION,
    ] {
        for answers in [
            ANSWERS,
            &[long_word.as_str(), long_answer.as_str(), "", "?", "Ok"],
        ] {
            for seed in 0..8 {
                let (_, replies) = converse(system, answers, Some(seed));
                for r in replies {
                    assert!(!r.text.trim().is_empty());
                    assert!(r.text.chars().count() <= MAX_REPLY_CHARS, "{}", r.text);
                }
            }
        }
    }
}

#[test]
fn message_content_reads_strings_nulls_and_text_parts() {
    let m: Message = serde_json::from_str(r#"{"role":"user","content":[{"type":"text","text":"Bonjour"},{"type":"image_url","image_url":{}}]}"#).unwrap();
    assert_eq!(m.content, "Bonjour");
    let m: Message = serde_json::from_str(r#"{"role":"assistant","content":null}"#).unwrap();
    assert_eq!(m.content, "");
    let m: Message = serde_json::from_str(r#"{"role":"tool","content":"x"}"#).unwrap();
    assert_eq!(m.role, Role::Other);
    assert!(serde_json::from_str::<Message>(r#"{"role":"user","content":42}"#).is_err());
}

fn any_role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::Developer),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Other),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_and_always_answers(
        messages in prop::collection::vec((any_role(), any::<String>()), 0..12),
        seed in any::<Option<u64>>(),
    ) {
        let messages: Vec<Message> = messages.into_iter().map(|(r, c)| Message::new(r, c)).collect();
        let r = reply(&messages, seed);
        prop_assert!(!r.text.trim().is_empty());
        prop_assert!(r.text.chars().count() <= MAX_REPLY_CHARS);
        prop_assert_eq!(&r, &reply(&messages, seed));
    }

    #[test]
    fn never_panics_on_french_looking_noise(
        words in prop::collection::vec("[A-Za-zÀ-ÿ'’%€0-9 -]{0,12}", 0..40),
        turns in 0usize..8,
    ) {
        let said = words.join(" ");
        let mut messages = vec![Message::system(NEGOTIATION)];
        for _ in 0..turns {
            messages.push(Message::assistant("D'accord."));
            messages.push(Message::user(said.clone()));
        }
        let r = reply(&messages, None);
        prop_assert!(!r.text.trim().is_empty());
        prop_assert!(r.text.chars().count() <= MAX_REPLY_CHARS);
    }
}

#[test]
fn the_talk_catalogues_declared_exercise_wins_over_the_characters_keywords() {
    // Thomas's own prompt is about presentations; the exercise line says negotiation.
    let prompt = "Tu es Thomas, expert en présentation et prise de parole en public.\nTu aides les utilisateurs à structurer leurs présentations.\n\nExercice : négociation commerciale. Tu négocies un contrat avec l'utilisateur.";
    let setting = detect(prompt);
    assert_eq!(setting.exercise, Exercise::Negotiation);
    assert_eq!(setting.character, Character::Thomas);
}
