//! What each role says. Every line is a whole sentence of spoken French; `{nom}` is the
//! character's first name, `{mot}` the learner's word the coach quotes back (always inside
//! « »). No line agrees an adjective or a participle with the learner, whose gender the
//! coach does not know ("ravi de vous voir" is never said; "quel plaisir de vous voir" is).
//!
//! `questions` are stages, asked in order, one variant per stage: the conversation moves
//! on (introduction → motivation → examples → difficulties → projection…). A script has
//! more stages than a session needs, so a stage already covered can be skipped without
//! running out.

/// The lines of one role.
pub(crate) struct Script {
    /// Opens the session (before the first question).
    pub greetings: &'static [&'static str],
    /// Stages of questions; each stage lists interchangeable variants.
    pub questions: &'static [&'static [&'static str]],
    /// Reacts to an answer, quoting `{mot}`.
    pub acks: &'static [&'static str],
    /// Reacts to an answer when nothing in it is worth quoting.
    pub plain_acks: &'static [&'static str],
    /// First sentence of the closing.
    pub closings: &'static [&'static str],
    /// Last sentence of the closing.
    pub goodbyes: &'static [&'static str],
    /// The feedback when nothing needs fixing: what went well.
    pub strengths: &'static [&'static str],
    /// Said when the learner keeps talking after the closing.
    pub after_close: &'static [&'static str],
}

/// Marie, free conversation: warm, curious, open questions.
pub(crate) const MARIE_FREE: Script = Script {
    greetings: &[
        "Bonjour ! Je suis {nom}, et c'est un plaisir de discuter avec vous aujourd'hui.",
        "Bonjour, ici {nom} ! Quel plaisir de vous retrouver pour un moment d'échange.",
    ],
    questions: &[
        &[
            "De quoi avez-vous envie de parler aujourd'hui ?",
            "Qu'est-ce qui vous occupe l'esprit en ce moment ?",
        ],
        &[
            "Qu'est-ce qui vous plaît le plus dans ce sujet ?",
            "Qu'est-ce qui a éveillé votre intérêt pour ce sujet ?",
        ],
        &[
            "Pouvez-vous me donner un exemple concret ?",
            "Pouvez-vous me raconter un souvenir précis lié à cela ?",
        ],
        &[
            "Comment vous sentez-vous quand vous en parlez ?",
            "Qu'est-ce que cela vous apporte au quotidien ?",
        ],
        &[
            "Si vous deviez l'expliquer à un ami en une phrase, que diriez-vous ?",
            "Qu'aimeriez-vous découvrir à ce sujet dans les prochains mois ?",
        ],
        &[
            "Quel conseil donneriez-vous à quelqu'un qui débute dans ce domaine ?",
            "Quelle a été la plus grande surprise pour vous jusqu'ici ?",
        ],
        &[
            "Selon vous, qu'est-ce qui rend une conversation vraiment agréable ?",
            "Quelle question aimeriez-vous que je vous pose maintenant ?",
        ],
    ],
    acks: &[
        "« {mot} », c'est passionnant !",
        "J'aime beaucoup ce que vous dites sur « {mot} ».",
        "C'est très bien exprimé, surtout à propos de « {mot} ».",
        "Intéressant, « {mot} » ! Vous l'expliquez avec beaucoup de clarté.",
    ],
    plain_acks: &[
        "C'est très bien exprimé !",
        "Intéressant, je vous écoute avec plaisir.",
        "Merci, continuez comme ça !",
    ],
    closings: &[
        "Merci pour ce bel échange, c'était un vrai plaisir !",
        "Nous arrivons au bout de notre conversation, merci beaucoup !",
    ],
    goodbyes: &[
        "À très bientôt pour une nouvelle conversation !",
        "Je vous dis à bientôt !",
    ],
    strengths: &[
        "Ce qui m'a plu : votre expression était fluide et naturelle.",
        "Bravo : vos réponses étaient claires et spontanées.",
    ],
    after_close: &[
        "Notre séance est terminée pour aujourd'hui. Relancez une conversation quand vous voulez !",
    ],
};

/// First impression: the character meets the learner at a networking event.
pub(crate) const NETWORKING: Script = Script {
    greetings: &[
        "Bonjour ! Moi, c'est {nom}. Quel plaisir de faire votre connaissance à cet événement.",
        "Bonsoir ! Je m'appelle {nom}, je crois que nous ne nous connaissons pas encore.",
    ],
    questions: &[
        &[
            "Présentez-vous en quelques phrases : qui êtes-vous et que faites-vous ?",
            "Alors, qu'est-ce qui vous amène à cette soirée ?",
        ],
        &[
            "Qu'est-ce qui vous passionne dans votre métier ?",
            "Sur quel projet travaillez-vous en ce moment ?",
        ],
        &[
            "Qu'est-ce qui vous distingue des autres personnes de votre domaine ?",
            "De quelle réussite parlez-vous le plus volontiers ?",
        ],
        &[
            "Que recherchez-vous en venant ici ce soir ?",
            "Quel type de contact aimeriez-vous rencontrer aujourd'hui ?",
        ],
        &[
            "Si je devais vous présenter à quelqu'un, que devrais-je dire de vous ?",
            "Comment peut-on vous recontacter après l'événement ?",
        ],
        &[
            "Qu'est-ce qui vous a donné envie de choisir ce domaine ?",
            "Quel conseil donneriez-vous à quelqu'un qui débute ?",
        ],
    ],
    acks: &[
        "Ah, « {mot} », c'est intéressant !",
        "« {mot} » ? Voilà qui donne envie d'en savoir plus.",
        "Je retiens « {mot} », c'est une belle accroche.",
        "« {mot} », je ne m'attendais pas à ça, c'est original !",
    ],
    plain_acks: &[
        "Ah, d'accord !",
        "Je vois, c'est intéressant.",
        "Ah oui, je comprends.",
    ],
    closings: &[
        "Quel plaisir d'avoir fait votre connaissance !",
        "Merci pour cet échange, c'était une très belle rencontre !",
    ],
    goodbyes: &[
        "Échangeons nos coordonnées, et à bientôt !",
        "Restons en contact, et bonne fin de soirée !",
    ],
    strengths: &[
        "Votre présentation était claire et donnait envie d'en savoir plus.",
        "Vous avez su capter l'attention dès les premières phrases.",
    ],
    after_close: &[
        "La soirée touche à sa fin. Relancez l'exercice quand vous voulez pour vous entraîner encore !",
    ],
};

/// The recruiter of the interview simulation: formal but kind, one question at a time.
pub(crate) const RECRUITER: Script = Script {
    greetings: &[
        "Bonjour et bienvenue pour cet entretien.",
        "Bonjour, merci d'avoir pris le temps de nous rencontrer aujourd'hui.",
    ],
    questions: &[
        &[
            "Pour commencer, pouvez-vous vous présenter en quelques mots ?",
            "Pour commencer, parlez-moi de votre parcours.",
        ],
        &[
            "Pourquoi ce poste vous intéresse-t-il ?",
            "Qu'est-ce qui vous motive à rejoindre notre entreprise ?",
        ],
        &[
            "Quelles sont vos principales qualités pour ce poste ?",
            "Quel est, selon vous, votre plus grand point fort ?",
        ],
        &[
            "Parlez-moi d'une difficulté rencontrée au travail et de la façon dont vous l'avez surmontée.",
            "Racontez-moi une situation où vous avez dû gérer un désaccord dans une équipe.",
        ],
        &[
            "Quel est votre principal axe d'amélioration ?",
            "Comment vous voyez-vous dans cinq ans ?",
        ],
        &[
            "Avez-vous des questions sur le poste ou sur l'équipe ?",
            "Quelles sont vos attentes en matière de salaire ?",
        ],
        &[
            "Quand seriez-vous disponible pour commencer ?",
            "Comment travaillez-vous en équipe au quotidien ?",
        ],
    ],
    acks: &[
        "Très bien, je note « {mot} ».",
        "Merci, c'est clair pour « {mot} ».",
        "D'accord, « {mot} », c'est un point intéressant pour ce poste.",
        "Je vois, vous mentionnez « {mot} ».",
    ],
    plain_acks: &[
        "Très bien, merci.",
        "D'accord, je note.",
        "Merci pour cette réponse.",
    ],
    closings: &[
        "Merci, nous arrivons à la fin de cet entretien.",
        "Parfait, ce sera tout pour aujourd'hui, merci pour cet entretien.",
    ],
    goodbyes: &[
        "Nous reviendrons vers vous d'ici la fin de la semaine. Au revoir !",
        "Vous aurez notre réponse très bientôt. Au revoir !",
    ],
    strengths: &[
        "Point fort : vos réponses étaient structurées et concrètes.",
        "Point fort : votre motivation pour le poste était bien visible.",
    ],
    after_close: &[
        "L'entretien est terminé, merci encore. Vous pouvez relancer une simulation quand vous voulez.",
    ],
};

/// The engaged audience of a presentation: questions about the talk itself.
pub(crate) const AUDIENCE: Script = Script {
    greetings: &[
        "Bonjour ! Toute la salle est prête à vous écouter.",
        "Bonjour ! Le public est installé, nous vous écoutons.",
    ],
    questions: &[
        &[
            "Quel est le sujet de votre présentation aujourd'hui ?",
            "Pouvez-vous nous présenter le sujet de votre intervention ?",
        ],
        &[
            "Pourquoi ce sujet est-il important pour nous, dans le public ?",
            "Quel problème concret votre présentation cherche-t-elle à résoudre ?",
        ],
        &[
            "Pouvez-vous nous donner un exemple concret ?",
            "Avez-vous des chiffres pour illustrer ce point ?",
        ],
        &[
            "Quelles sont les limites de votre approche ?",
            "Qu'est-ce qui pourrait faire échouer votre projet ?",
        ],
        &[
            "Si nous ne devions retenir qu'une idée, laquelle serait-ce ?",
            "Par quoi commencer dès demain pour appliquer vos conseils ?",
        ],
        &[
            "Comment mesurez-vous le succès de votre démarche ?",
            "Où peut-on en apprendre davantage sur le sujet ?",
        ],
    ],
    acks: &[
        "Merci, le passage sur « {mot} » était très clair.",
        "Intéressant, ce que vous dites sur « {mot} » !",
        "Dans la salle, on a bien noté « {mot} ».",
        "« {mot} », voilà qui nous parle !",
    ],
    plain_acks: &[
        "Merci, c'est intéressant.",
        "D'accord, le public vous suit.",
        "Merci pour cette précision.",
    ],
    closings: &[
        "Merci pour cette présentation, la salle applaudit !",
        "Merci beaucoup, c'était une intervention très riche !",
    ],
    goodbyes: &["Bravo, et à bientôt !", "Merci encore, et à la prochaine !"],
    strengths: &[
        "Ce qui a fonctionné : vous avez répondu aux questions avec calme et précision.",
        "Ce qui a fonctionné : vos exemples rendaient le propos vivant.",
    ],
    after_close: &[
        "La séance de questions est terminée. Relancez l'exercice pour présenter à nouveau !",
    ],
};

/// Thomas, presentation coach: structure, storytelling, stress.
pub(crate) const PRESENTATION_COACH: Script = Script {
    greetings: &[
        "Bonjour, je suis {nom}. Aujourd'hui, on travaille votre présentation ensemble.",
        "Bonjour ! Ici {nom} : on va structurer ensemble votre prise de parole.",
    ],
    questions: &[
        &[
            "Quel est le sujet de votre présentation, et à qui s'adresse-t-elle ?",
            "En une phrase, quel message voulez-vous faire passer ?",
        ],
        &[
            "Comment allez-vous accrocher votre public dès la première minute ?",
            "Quelle est votre phrase d'introduction ?",
        ],
        &[
            "Quelles sont les trois grandes parties de votre plan ?",
            "Comment enchaînez-vous d'une partie à l'autre ?",
        ],
        &[
            "Quelle petite histoire pourriez-vous raconter pour illustrer votre idée principale ?",
            "Quel exemple concret rendra votre message mémorable ?",
        ],
        &[
            "Qu'est-ce qui vous stresse le plus avant de prendre la parole ?",
            "Comment gérez-vous le trac juste avant de commencer ?",
        ],
        &[
            "Comment allez-vous conclure pour qu'on retienne votre message ?",
            "Quelle est votre phrase de conclusion ?",
        ],
        &[
            "Combien de temps dure votre présentation, et où pourriez-vous couper ?",
            "Quelle question difficile du public redoutez-vous ?",
        ],
    ],
    acks: &[
        "Bien, « {mot} » est une bonne base : annoncez cette idée clairement dès le début.",
        "D'accord pour « {mot} » : marquez une courte pause juste après, pour laisser l'idée s'installer.",
        "« {mot} », très bien ; respirez calmement et gardez un rythme posé.",
        "Bon point sur « {mot} » : reprenez cette idée en conclusion pour qu'elle reste en tête.",
    ],
    plain_acks: &[
        "C'est un bon début, structurons-le davantage.",
        "D'accord ; prenez une grande respiration avant de continuer.",
        "Bien, gardez ce rythme posé.",
    ],
    closings: &[
        "On s'arrête là pour aujourd'hui, beau travail !",
        "Très bonne séance, votre présentation prend forme !",
    ],
    goodbyes: &[
        "Répétez votre présentation une fois à voix haute avant le jour J. À bientôt !",
        "Entraînez-vous encore une fois devant un miroir, et à bientôt !",
    ],
    strengths: &[
        "Point fort : votre plan était clair et facile à suivre.",
        "Point fort : vous avez gardé un rythme posé et rassurant.",
    ],
    after_close: &[
        "La séance est terminée pour aujourd'hui. Relancez l'exercice pour une nouvelle répétition !",
    ],
};

/// The buyer of the negotiation: pushes back on price, delays and terms.
pub(crate) const NEGOTIATOR: Script = Script {
    greetings: &[
        "Bonjour, je suis {nom}, responsable des achats. J'ai lu votre proposition, mais j'ai quelques réserves.",
        "Bonjour, {nom}, direction des achats. Votre offre nous intéresse, mais elle ne nous convient pas en l'état.",
    ],
    questions: &[
        &[
            "Pour commencer, que proposez-vous exactement, et à quel prix ?",
            "Présentez-moi votre offre : qu'est-ce qui est inclus, et pour quel tarif ?",
        ],
        &[
            "Honnêtement, votre prix est trop élevé pour notre budget. Que pouvez-vous faire ?",
            "Vos concurrents sont moins chers. Pourquoi devrions-nous vous choisir ?",
        ],
        &[
            "Vos délais de livraison sont trop longs pour nous. Pouvez-vous vous engager sur moins ?",
            "Un paiement à trente jours ne nous convient pas. Quelle alternative proposez-vous ?",
        ],
        &[
            "Si je signe pour deux ans, quelle remise m'accordez-vous ?",
            "Et si nous doublons le volume, quel prix obtenons-nous ?",
        ],
        &[
            "Qu'est-ce qui justifie ce tarif, concrètement ?",
            "Quelles garanties offrez-vous si le résultat n'est pas au rendez-vous ?",
        ],
        &[
            "Je dois convaincre ma direction. Quel geste pouvez-vous faire aujourd'hui ?",
            "Que se passe-t-il si nous devons résilier le contrat en cours de route ?",
        ],
    ],
    acks: &[
        "« {mot} », je comprends, mais ce n'est pas suffisant pour nous.",
        "Vous parlez de « {mot} » : c'est un début, mais j'attends mieux.",
        "« {mot} » ? Je reste sceptique, je vous l'avoue.",
        "Entendu pour « {mot} », mais nous avons d'autres offres sur la table.",
    ],
    plain_acks: &[
        "Je vois, mais cela ne me convainc pas encore.",
        "D'accord, mais il va falloir faire un effort.",
        "Franchement, ce n'est pas tout à fait ce que j'espérais.",
    ],
    closings: &[
        "Bon, je pense qu'on peut trouver un accord sur cette base.",
        "Très bien, vos arguments ont fait leur chemin, avançons ensemble.",
    ],
    goodbyes: &[
        "Envoyez-moi une proposition écrite, et nous finaliserons. Merci !",
        "Je soumets tout cela à ma direction et je vous rappelle. Merci !",
    ],
    strengths: &[
        "Bien joué : vous avez défendu votre position tout en gardant une relation cordiale.",
        "Bien joué : vous avez argumenté sur la valeur plutôt que sur le prix.",
    ],
    after_close: &[
        "La négociation est close pour aujourd'hui. Relancez l'exercice pour une nouvelle manche !",
    ],
};

/// Said instead of an acknowledgement when the message was empty.
pub(crate) const NOT_HEARD: &[&str] = &[
    "Je n'ai pas bien entendu. Pouvez-vous répéter, s'il vous plaît ?",
    "Pardon, je n'ai rien entendu. Prenez votre temps, et reprenez quand vous voulez.",
];

/// Said when the learner answered in another language.
pub(crate) const SPEAK_FRENCH: &[&str] = &[
    "Je vous propose de continuer en français, même avec des mots simples.",
    "Essayons en français, même avec des phrases courtes : c'est le meilleur entraînement.",
];

/// Said when the answer was one or two words.
pub(crate) const TOO_SHORT: &[&str] = &[
    "D'accord. N'hésitez pas à développer un peu plus vos réponses.",
    "Je vois. Essayez d'en dire un peu plus, avec une ou deux phrases.",
];

/// Said when the answer was one or two words, quoting the one that mattered.
pub(crate) const TOO_SHORT_WITH_WORD: &[&str] = &[
    "« {mot} », d'accord. Pouvez-vous développer un peu ?",
    "« {mot} » : dites-m'en un peu plus en une ou deux phrases.",
];

/// The closing feedback when the learner hesitated (`{mot}` is the filler).
pub(crate) const FEEDBACK_FILLERS: &str =
    "Un conseil : remplacez les « {mot} » par de courtes pauses, vous gagnerez en assurance.";
/// The closing feedback when the answers were very short.
pub(crate) const FEEDBACK_SHORT: &str =
    "Un conseil : développez davantage vos réponses, avec un exemple concret à chaque fois.";
/// The closing feedback when the answers were very long.
pub(crate) const FEEDBACK_LONG: &str =
    "Un conseil : allez plus vite à l'essentiel, avec une idée par phrase.";
/// The closing feedback when the learner kept switching to another language.
pub(crate) const FEEDBACK_FRENCH: &str =
    "Un conseil : restez en français du début à la fin, même avec des mots simples.";
