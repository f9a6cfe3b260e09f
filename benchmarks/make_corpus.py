#!/usr/bin/env python3
"""Synthetic benchmark corpus generator for ThoughtTrace Explorer.

Writes a JSONL corpus with exactly the schema of the ThoughtTrace release
(see /work/shared/DATASET.md) at a chosen scale, for load/performance
benchmarks.  All texts are synthetic: they are composed from templates over
our own vocabulary of 7 domains x 36 subtopics, so texts within a conversation
are topically coherent (embeddings cluster by topic) and every text in the
corpus is unique.  Nothing is copied from the real data.

Usage::

    python benchmarks/make_corpus.py --scale 1  --out benchmarks/corpora/thoughttrace_1x.jsonl
    python benchmarks/make_corpus.py --scale 10 --out benchmarks/corpora/thoughttrace_10x.jsonl.gz --gzip
    python benchmarks/make_corpus.py --scale 0.05 --seed 3 --out /tmp/small.jsonl

Only the standard library and numpy are used.  The output is byte-for-byte
deterministic for a given (scale, seed) pair (gzip output too: mtime is 0).

What is reproduced at ``--scale 1`` (published figures of the full release)
---------------------------------------------------------------------------
* 2,155 conversations, 1,058 users, 17,058 messages, 10,174 thoughts, 20 models.
* Per model: users, conversations, messages and thoughts exactly as published
  (each user talks to exactly one model; the published per-model user counts
  sum to 1,058, so this is consistent).  Every published per-model message
  count is even and >= 2 x conversations, so every conversation can have an
  even number of messages >= 2 with no deviation.
* Messages per conversation: median 8, long tail up to 40 (20 user turns).
* Thought labels: global counts match the published shares (largest-remainder
  rounding); per-stage shares follow the published stage dynamics as closely
  as the global shares allow (iterative proportional fitting).
* 75 conversations without survey answers, 152 with a null frequency, a few
  users with garbage ages ("2", "366", ...).  Survey answers are per user.
* ~40% of messages carry no thought (``null`` or ``[]``), ~2% carry two.

At ``--scale s`` every per-model count is multiplied by ``s`` and rounded
(message counts to the nearest even number, never below 2 x conversations).
``--scale 10`` therefore gives exactly 10x everything.  User numbers are
drawn from a range that grows with the scale (so at 10x they run well past
the 1x range), ids are always unique.

Stage rule used to shape the label dynamics (explicit, as DATASET.md asks):
message at 0-based index ``i`` of a conversation with ``n`` messages has
relative position ``r = i / (n - 1)`` (``r = 0`` if ``n == 1``) and stage
``floor(3 * r + 0.5)`` in {0: Early, 1: Mid-Early, 2: Mid-Late, 3: Late},
i.e. the nearest of the anchors 0%, 33%, 67%, 100%.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import string
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------
# Published figures
# --------------------------------------------------------------------------

# name, provider, users, conversations, messages, thoughts
MODELS = [
    ("GPT-5.4", "OpenAI", 162, 337, 2462, 1474),
    ("Gemini 3.1 Pro Preview", "Google", 155, 313, 2568, 1553),
    ("Grok 4.20", "xAI", 100, 210, 1782, 905),
    ("Claude Opus 4.6", "Anthropic", 70, 141, 1222, 712),
    ("Claude Sonnet 4.6", "Anthropic", 68, 134, 1224, 709),
    ("MiniMax M2.7", "MiniMax", 50, 100, 608, 344),
    ("gpt-oss-120b", "OpenAI", 36, 70, 372, 232),
    ("Kimi K2.5", "MoonshotAI", 35, 71, 552, 382),
    ("Gemma 4 26B A4B", "Google", 35, 69, 504, 342),
    ("Qwen3.6 Plus", "Qwen", 34, 72, 424, 258),
    ("MiMo-V2-Pro", "Xiaomi", 34, 67, 690, 407),
    ("GPT-4o-mini", "OpenAI", 33, 69, 664, 498),
    ("Gemini 3 Flash Preview", "Google", 33, 69, 636, 401),
    ("Grok 4.1 Fast", "xAI", 33, 63, 462, 289),
    ("GLM 5", "Zhipu", 30, 64, 406, 296),
    ("Step 3.5 Flash", "StepFun", 30, 64, 502, 269),
    ("Llama 3.3 70B Instruct", "Meta", 30, 62, 492, 275),
    ("Mistral Small 4", "Mistral", 30, 61, 572, 309),
    ("Claude Haiku 4.5", "Anthropic", 30, 60, 532, 315),
    ("DeepSeek V3.2", "DeepSeek", 30, 59, 384, 204),
]

TOTALS = {"users": 1058, "conversations": 2155, "messages": 17058, "thoughts": 10174}
N_EMPTY_SURVEY = 75          # conversations without survey answers
N_NULL_FREQUENCY = 152       # conversations whose survey has frequency null
N_GARBAGE_AGE_USERS = 4      # users with an implausible age string
GARBAGE_AGES = ["2", "366", "0", "1990"]

REASON_CODES = [
    "task_motivation", "task_continuation", "task_reorientation",
    "context_grounding_and_constraints", "content_expectation",
    "style_expectation", "social_and_others",
]
REACTION_CODES = [
    "explicit_affirmation", "partial_satisfaction", "content_relevance",
    "presentation_style", "scope_fit",
]
REASON_SHARES = {
    "task_motivation": 36.9, "task_continuation": 21.4, "task_reorientation": 1.0,
    "context_grounding_and_constraints": 13.1, "content_expectation": 11.5,
    "style_expectation": 5.0, "social_and_others": 11.1,
}
REACTION_SHARES = {
    "explicit_affirmation": 72.2, "partial_satisfaction": 3.4, "content_relevance": 11.9,
    "presentation_style": 6.4, "scope_fit": 6.1,
}


def _stage_matrix(fixed, rest_shares, zero_at_stage0=()):
    """Per-stage label distribution: published per-stage shares for the codes
    in ``fixed``; the remainder split over the other codes by global share."""
    rows = []
    for s in range(4):
        row = dict((k, v[s]) for k, v in fixed.items())
        rest = 1.0 - sum(row.values())
        keys = [k for k in rest_shares if not (s == 0 and k in zero_at_stage0)]
        tot = sum(rest_shares[k] for k in keys)
        for k in rest_shares:
            row[k] = rest * rest_shares[k] / tot if k in keys else 0.0
        rows.append(row)
    return rows


REASON_STAGE = _stage_matrix(
    {"task_motivation": (.57, .41, .18, .27),
     "task_continuation": (.04, .20, .36, .26),
     "social_and_others": (.23, .05, .08, .15)},
    {"context_grounding_and_constraints": 13.1, "content_expectation": 11.5,
     "style_expectation": 5.0, "task_reorientation": 1.0},
    zero_at_stage0=("task_reorientation",),
)
REACTION_STAGE = _stage_matrix(
    {"explicit_affirmation": (.67, .69, .76, .79),
     "content_relevance": (.12, .13, .11, .10)},
    {"presentation_style": 6.4, "scope_fit": 6.1, "partial_satisfaction": 3.4},
)

# Conversation length: number of user/assistant pairs (1..20).  Median 4 pairs
# (8 messages), tail to 20 pairs (40 messages).  Tilted per model to hit the
# model's mean exactly in expectation; the exact total is then enforced.
MAX_PAIRS = 20
BASE_PAIR_PMF = np.array([
    0.120, 0.130, 0.150, 0.215, 0.115, 0.080, 0.055, 0.038, 0.027, 0.019,
    0.014, 0.010, 0.008, 0.006, 0.005, 0.004, 0.003, 0.0025, 0.0018, 0.0012,
])

# --------------------------------------------------------------------------
# Vocabulary: 7 domains (published weights), 36 subtopics (our own)
# --------------------------------------------------------------------------

DOMAINS = [
    ("Culture & Lifestyle", 37.1, [
        ("home cooking", "cook a week of quick weeknight dinners|fix a sauce that keeps splitting|cook for a dinner party of eight|use up leftovers without wasting food",
         "recipe|sauce|oven temperature|marinade|spice blend|cast-iron pan|braise|meal prep|leftovers|knife technique|stock|seasoning"),
        ("baking", "bake a reliable sourdough loaf|make a birthday cake from scratch|get flaky pastry at home|bake gluten-free cookies",
         "sourdough starter|hydration|proofing|crumb|butter|pastry dough|oven spring|flour blend|baking soda|icing|cake tin|dough"),
        ("travel planning", "plan a ten-day trip through Japan|find a cheap weekend getaway|plan a rail trip across Europe|organise a family road trip",
         "itinerary|rail pass|layover|hostel|visa|carry-on|day trip|local transit|travel insurance|booking|neighbourhood|budget airline"),
        ("home and gardening", "start a small vegetable garden|keep houseplants alive|plan a balcony garden|improve clay soil",
         "raised bed|compost|tomato seedlings|pruning|drip irrigation|mulch|houseplants|soil pH|fertiliser|sunlight|watering schedule|pots"),
        ("fashion and shopping", "build a capsule wardrobe|find a suit for a wedding|shop more sustainably|choose running shoes",
         "capsule wardrobe|fabric|tailoring|sneakers|thrift store|colour palette|fit|return policy|outfit|wool coat|accessories|sizing"),
        ("pets", "train a new puppy|help a cat adjust to a new home|choose food for an older dog|introduce two cats",
         "puppy training|litter box|vet visit|leash|treats|crate|shedding|food allergy|walks|scratching post|grooming|vaccinations"),
        ("home improvement", "repaint a small bedroom|organise a cluttered garage|fix a wobbly shelf|renovate a rental kitchen cheaply",
         "shelving|drywall anchor|paint finish|storage bins|closet|power drill|grout|decluttering|primer|sandpaper|caulk|toolbox"),
        ("events and gifts", "plan a surprise birthday party|write a wedding toast|pick a gift for my dad|organise a team dinner",
         "birthday party|gift ideas|wedding toast|guest list|decorations|party budget|venue|invitation|menu|playlist|speech|theme"),
    ]),
    ("Education & Knowledge", 19.1, [
        ("math homework", "understand how to solve quadratic equations|prepare for a calculus quiz|check my probability homework|learn matrix multiplication",
         "quadratic equation|derivative|proof|probability|matrix|integral|word problem|graph|limit|factorisation|chain rule|variance"),
        ("physics and chemistry", "finish a lab report on reaction rates|understand circuits for an exam|balance chemical equations|solve momentum problems",
         "momentum|circuit|stoichiometry|molar mass|free-body diagram|wavelength|reaction rate|lab report|resistance|acceleration|titration|energy"),
        ("history", "write an essay on the causes of the First World War|understand the Cold War timeline|compare two empires|analyse a primary source",
         "primary source|treaty|industrial revolution|cold war|essay thesis|timeline|empire|historiography|revolution|colonialism|archive|dynasty"),
        ("language learning", "learn Spanish for a trip|improve my German pronunciation|pass a Japanese proficiency test|practise French conversation",
         "vocabulary|verb conjugation|pronunciation|flashcards|grammar|immersion|subjunctive|speaking practice|listening|kanji|accent|tenses"),
        ("essay writing", "write a persuasive essay|structure a research paper|improve my thesis statement|cite sources correctly",
         "thesis statement|outline|citation|paragraph structure|argument|conclusion|counterargument|APA style|introduction|evidence|transition|draft"),
        ("study skills", "make a study schedule for finals|stop procrastinating on revision|prepare for a standardised test|take better lecture notes",
         "study schedule|practice test|spaced repetition|notes|revision|syllabus|focus|flashcard deck|exam anxiety|time blocking|summary sheet|mock exam"),
    ]),
    ("Business & Society", 14.8, [
        ("personal finance", "build an emergency fund|pay off credit card debt|start investing with a small salary|plan a monthly budget",
         "budget|emergency fund|index fund|credit card debt|savings rate|tax return|retirement account|expense tracker|interest rate|mortgage|fees|net worth"),
        ("career and job search", "rewrite my resume for a data role|prepare for a final-round interview|negotiate a job offer|switch careers into design",
         "resume|cover letter|interview|salary negotiation|LinkedIn profile|references|job offer|portfolio|recruiter|career change|skills gap|networking"),
        ("small business and marketing", "launch an online candle shop|grow my bakery's Instagram|price a freelance service|write a product newsletter",
         "customer|pricing|newsletter|social media post|brand|invoice|product launch|conversion rate|target audience|ad budget|landing page|reviews"),
        ("law and policy", "get my rental deposit back|understand a clause in my contract|file a small claims case|check my consumer rights",
         "tenancy agreement|contract clause|small claims|consumer rights|privacy policy|regulation|deposit|landlord|warranty|notice period|liability|refund"),
        ("workplace communication", "write an email asking for a raise|run a better team meeting|give feedback to a colleague|report a delayed project",
         "email to my manager|meeting agenda|project update|feedback|deadline|stakeholder|team conflict|status report|one-on-one|priorities|tone|follow-up"),
    ]),
    ("Health & Relationships", 14.5, [
        ("fitness", "train for my first 5K|build a beginner strength routine|improve my squat form|stay active with a busy schedule",
         "strength training|running plan|squat form|rest day|protein intake|warm-up|5K|mobility|interval training|progressive overload|stretching|heart rate"),
        ("nutrition", "eat healthier on a student budget|plan vegetarian meals with enough protein|cut down on sugar|prepare lunches for work",
         "meal plan|calories|fibre|blood sugar|snacks|hydration|vegetarian protein|portion size|breakfast|vitamins|whole grains|sugar"),
        ("sleep and wellbeing", "fix my sleep schedule|manage stress before exams|build a calmer evening routine|deal with burnout at work",
         "sleep schedule|anxiety|stress|journaling|breathing exercise|burnout|therapist|evening routine|screen time|caffeine|mindfulness|naps"),
        ("relationships and family", "talk to my partner about chores|set boundaries with my parents|reconnect with an old friend|resolve a roommate conflict",
         "partner|argument|boundaries|friendship|parents|apology|roommate|communication|trust|family dinner|conflict|expectations"),
        ("medical questions", "understand my blood test results|prepare questions for a doctor visit|manage seasonal allergies|recover from a sprained ankle",
         "symptoms|medication|side effects|doctor appointment|blood test|allergy|dosage|recovery|physiotherapy|inflammation|prescription|check-up"),
    ]),
    ("Technology", 6.6, [
        ("python programming", "clean a messy CSV with pandas|fix a failing unit test|write a script to rename files|speed up a slow loop",
         "function|list comprehension|pandas dataframe|traceback|virtual environment|unit test|API request|for loop|dictionary|exception|regex|decorator"),
        ("web development", "build a responsive landing page|add login to my React app|deploy a small Flask site|fix a CSS layout bug",
         "React component|CSS grid|REST endpoint|database query|deployment|authentication|form validation|responsive design|JavaScript|state management|routing|HTML"),
        ("devices and troubleshooting", "speed up an old laptop|fix flaky home Wi-Fi|back up my phone photos|choose a new monitor",
         "laptop|Wi-Fi router|battery life|driver update|backup|smartphone|Bluetooth|storage|operating system|firmware|cables|settings"),
        ("data and AI tools", "build a dashboard in a spreadsheet|write better prompts for work|automate a weekly report|analyse survey results",
         "spreadsheet formula|prompt|dataset|chart|automation|pivot table|language model|dashboard|VLOOKUP|data cleaning|macro|visualisation"),
    ]),
    ("Arts & Entertainment", 4.9, [
        ("music", "learn barre chords on guitar|write a simple song|build a daily piano practice routine|understand music theory basics",
         "chord progression|guitar|practice routine|scale|song lyrics|rhythm|music theory|playlist|metronome|melody|key signature|strumming pattern"),
        ("books and films", "find novels like my favourite series|understand the ending of a film|plan a book club season|pick a film for family night",
         "novel|plot|character arc|film recommendation|genre|series|ending|book club|director|soundtrack|theme|sequel"),
        ("creative writing", "finish a short story for a contest|write believable dialogue|build a fantasy world|write a poem for a friend",
         "short story|dialogue|worldbuilding|protagonist|poem|scene|plot twist|narrative voice|villain|setting|pacing|first chapter"),
        ("games and hobbies", "plan a tabletop campaign|get better at chess openings|start film photography|learn a knitting pattern",
         "board game|character build|strategy|puzzle|tabletop campaign|camera settings|sketching|knitting pattern|chess opening|dice|composition|yarn"),
    ]),
    ("Other Topics", 3.1, [
        ("trivia and curiosities", "settle a trivia argument with friends|understand why the sky is blue|learn the origin of a word|explain black holes to a kid",
         "fun fact|origin|etymology|outer space|animal behaviour|myth|world record|explanation|ocean|volcano|invention|galaxy"),
        ("philosophy and ethics", "think through a moral dilemma at work|understand free will debates|prepare for a philosophy seminar|compare ethical theories",
         "free will|moral dilemma|argument|utilitarianism|meaning of life|thought experiment|virtue|consciousness|duty|justice|autonomy|responsibility"),
        ("religion and spirituality", "start a meditation practice|understand a religious holiday|plan an interfaith dinner|read a sacred text for the first time",
         "meditation|ritual|scripture|tradition|holiday|belief|prayer|community|fasting|pilgrimage|symbolism|festival"),
        ("everyday decisions", "decide between two apartments|make a moving checklist|choose between two job offers|plan a busy week",
         "checklist|decision|comparison|pros and cons|schedule|reminder|priority list|recommendation|trade-off|deadline|errands|calendar"),
    ]),
]

SUBTOPICS = []   # (domain, name, goals, keywords)
DOMAIN_OF = []
for _d, (_dname, _w, _subs) in enumerate(DOMAINS):
    for _name, _goals, _kws in _subs:
        SUBTOPICS.append((_dname, _name, _goals.split("|"), _kws.split("|")))
        DOMAIN_OF.append(_d)
_dw = np.array([d[1] for d in DOMAINS])
SUBTOPIC_P = np.array([_dw[DOMAIN_OF[i]] / len(DOMAINS[DOMAIN_OF[i]][2]) for i in range(len(SUBTOPICS))])
SUBTOPIC_P = SUBTOPIC_P / SUBTOPIC_P.sum()

# --------------------------------------------------------------------------
# Templates.  Slots: {kw} {kw2} {Kw} {goal} {name} {n} {m}
# --------------------------------------------------------------------------

U_MAIN = {
    "task_motivation": [
        "I need to {goal} and I'm not sure where to start with {kw}.",
        "Hi, I'm trying to {goal}. Can you walk me through how to handle {kw} and {kw2}?",
        "Can you help me {goal}? The part I find hardest is {kw}.",
        "I want to {goal} in the next {n} days. What should I know about {kw} before I begin?",
        "My goal is to {goal}, but I keep getting confused about {kw}. How would you approach it?",
        "Quick question about {name}: what is the best way to deal with {kw} when you want to {goal}?",
    ],
    "task_continuation": [
        "Thanks, that makes sense. Can you go deeper on {kw}, especially how it affects {kw2}?",
        "Following up on the point about {kw}: what would the next step be after that?",
        "Okay, and once {kw} is sorted, how should I handle {kw2}?",
        "That helps. Could you expand the second part about {kw} a bit more?",
        "Building on that, how would this change if I also had to think about {kw2}?",
        "Good, let's continue with {kw}. What are common mistakes people make at this stage?",
    ],
    "task_reorientation": [
        "Actually, let's switch gears. I also need to {goal}. Where would you start with {kw}?",
        "Forget the previous question for a moment; what I really need now is help with {kw}.",
        "Let's try a different direction: instead of that, can you help me {goal}?",
        "Change of plan. I'd rather focus on {kw} now, since I need to {goal}.",
    ],
    "context_grounding_and_constraints": [
        "For context, I only have about {n} minutes a day, so anything involving {kw} has to stay simple.",
        "I should mention that my budget is around ${m} and I can't change my {kw2}.",
        "Some background: I'm a complete beginner with {kw} and I live in a small apartment.",
        "One constraint: I need to finish this within {n} days and I can't use {kw2}.",
        "To be clear, I've already tried {kw}, and it didn't work because of {kw2}.",
    ],
    "content_expectation": [
        "Could you give me concrete examples of {kw}, with numbers if possible?",
        "Can you explain why {kw} works, not just what to do?",
        "I'd like a step-by-step breakdown of {kw}, including what to avoid.",
        "What are the main pros and cons of {kw} compared with {kw2}?",
        "Can you list the specific things I should check about {kw} before I commit?",
    ],
    "style_expectation": [
        "Can you put that into a short checklist? Bullet points would be easier to follow for {kw}.",
        "Please keep the answer about {kw} short and in plain language, no jargon.",
        "Could you format the {kw} plan as a simple table with one row per day?",
        "Can you rewrite that in a friendlier tone, as if explaining {kw} to a friend?",
        "Just give me the three most important points about {kw}, nothing more.",
    ],
    "social_and_others": [
        "Thank you so much, this is really helpful! One more thing about {kw}.",
        "Great, thanks. I'll try this with {kw} tonight and see how it goes.",
        "Haha, fair enough. Let me think about {kw} and come back to you.",
        "Thanks for your patience. Last question on {kw} and then I'm done.",
    ],
}
U_GREETING = [
    "Hello! Hope you can help me with something related to {name}.",
    "Hi there, thanks in advance for your help.",
    "Good morning! I have a question about {name}.",
    "Hey, hope you're doing well.",
    "Hi! I could use some advice on {name}.",
]
U_FILLER = [
    "My situation is a bit specific because of {kw2}.",
    "I have tried {kw} before, but it did not work out the way I hoped.",
    "Ideally I'd like to keep the whole thing under {n} minutes.",
    "A friend suggested {kw2}, but I'm not convinced it fits my case.",
    "I'm doing this for the first time, so please don't assume too much.",
    "The deadline is in about {n} days, which is why I'm asking now.",
    "Money is a bit tight, so cheaper options are better.",
    "I also want to understand the reasoning, not just the answer.",
    "Should I worry about {kw2} at this point or leave it for later?",
    "I've read mixed advice online about {kw} and it's confusing.",
    "It's for {n} people in total, if that changes anything.",
    "I care more about doing {kw} properly than doing it fast.",
    "Would the answer change if I started with {kw2} instead?",
    "I tried searching for this but found only generic tips on {kw}.",
]
U_AFTER_REACTION = {
    "explicit_affirmation": ["Great, thanks.", "Perfect, that's clear.", "Nice, that works for me.", "Awesome."],
    "partial_satisfaction": ["That's helpful, but one part is still unclear.", "Okay, that's partly what I needed."],
    "content_relevance": ["That doesn't really answer my question about {kw}.", "Hmm, that's not what I asked."],
    "presentation_style": ["That was a bit hard to read.", "Could you drop the formal tone?"],
    "scope_fit": ["That's far more detail than I needed.", "That was too short to be useful."],
}

A_TITLE = [
    "### {Kw}: a practical plan", "### How to approach {kw}", "### Getting {kw} right",
    "### {Kw} step by step", "### A simple guide to {kw}", "### Options for {kw}",
    "### What to know about {kw}", "### Making {kw} work for you",
]
A_INTRO = [
    "Good question. If you want to {goal}, it helps to break the work into a few steps around {kw} and {kw2}.",
    "Here is a practical way to approach {name}, focusing on {kw} first and then on {kw2}.",
    "With {name}, most problems come down to {kw}, so it makes sense to start there.",
    "Below is a structured plan for your question about {kw}, with options for different budgets and time frames.",
    "There are several common approaches to {kw}; which one fits best depends on your time, budget and experience.",
    "That's a very common situation, and the good news is that {kw} is easier to manage than it looks.",
    "Let's look at {kw} from two angles: what matters most right now, and what can wait until later.",
    "Many people who {goal} run into the same issue with {kw2}, so you're in good company.",
    "The short answer is yes, but the details of {kw} matter quite a bit.",
]
A_BODY = [
    "Start with {kw} and give it about {n} minutes a day; small, consistent steps beat one big push.",
    "Compare two or three options side by side and note how each one affects {kw2}.",
    "Keep a simple log of what you try with {kw}, so you can see what actually makes a difference.",
    "If {kw} feels overwhelming, reduce it to one clear action you can finish today.",
    "Watch out for {kw2}: it is the most common reason this kind of plan stalls after a week or two.",
    "A useful rule of thumb is to spend roughly {p}% of your effort on {kw} and the rest on {kw2}.",
    "Test the idea on a small scale first, for example with {n} items, before committing fully.",
    "Budget-wise, a reasonable range is ${m} to ${m2}, depending on how much you handle yourself.",
    "Don't skip {kw}; it looks minor but it affects everything that follows.",
    "If you only have limited time, prioritise {kw} and postpone {kw2} until the basics are stable.",
    "Write down your goal in one sentence and check every decision about {kw} against it.",
    "It is normal for {kw} to take {n} attempts before it feels natural, so be patient with yourself.",
    "Ask someone with experience in {name} to look at your plan; a second opinion often catches gaps.",
    "Revisit {kw2} after about {n} days and adjust based on what you have learned.",
    "Avoid changing too many things at once, otherwise you won't know what improved {kw}.",
    "Look for free resources first; many guides on {kw} are just as good as paid ones.",
    "Set a clear stopping point so that {kw} doesn't expand to fill all your free time.",
    "Pair {kw} with something you already do every day, which makes it much easier to keep going.",
    "Check the details of {kw2} early, because they are harder to fix later on.",
    "In most cases the simplest version of {kw} is enough; extra complexity rarely pays off at the start.",
]
A_CLOSE = [
    "If you tell me more about your {kw2}, I can tailor this further.",
    "Would you like a more detailed version of any of these steps?",
    "Let me know how it goes, and we can adjust the plan for {kw}.",
    "I hope this helps you {goal}; feel free to ask follow-up questions.",
    "If you want, I can turn this into a checklist or a weekly schedule.",
    "Happy to go deeper on {kw} or {kw2} if either is still unclear.",
]

T_MAIN = {
    "task_motivation": [
        "I asked this because I want to {goal} and I keep getting stuck on {kw}.",
        "I need to sort out {kw} soon because I want to {goal}.",
        "My real goal is to {goal}, and {kw} is the first obstacle.",
        "I started this chat because I have to {goal} and wanted a clear plan.",
    ],
    "task_continuation": [
        "The previous answer covered the basics, so I wanted to go deeper into {kw}.",
        "I followed up because the part about {kw} was useful but incomplete for my case.",
        "I wanted to continue with the same plan and see how {kw2} fits in.",
        "Now that {kw} was clear, I wanted the next step.",
    ],
    "task_reorientation": [
        "I changed direction because {kw} matters more to me right now than the earlier question.",
        "I realised the earlier topic was a dead end, so I switched to {kw}.",
        "I decided to steer the conversation toward {kw} instead.",
    ],
    "context_grounding_and_constraints": [
        "I added my constraints because generic advice about {kw} does not fit my situation.",
        "I mentioned my limited time and budget so the answer about {kw} would be realistic.",
        "I gave background on {kw2} so it would not suggest things I already tried.",
    ],
    "content_expectation": [
        "I wanted concrete examples about {kw} rather than a vague overview.",
        "I was hoping for a detailed, step-by-step explanation of {kw}.",
        "I asked for the reasoning behind {kw} so I can apply it myself next time.",
    ],
    "style_expectation": [
        "I asked for a shorter, list-style answer because the long paragraphs about {kw} were hard to follow.",
        "I wanted a simple format I could glance at while working on {kw}.",
        "I prefer a casual tone, so I asked it to rewrite the part about {kw}.",
    ],
    "social_first": [
        "I opened with a greeting because it felt rude to jump straight into my question about {name}.",
        "I started politely since I was about to ask for a lot of help with {kw}.",
        "I said hello first; it is just how I usually start a conversation, even with an AI.",
    ],
    "social_and_others": [
        "I said thanks because the help with {kw} was genuinely useful.",
        "I was wrapping up the conversation about {kw} and wanted to be polite.",
        "I added a friendly remark so the exchange about {kw} felt less like a search query.",
        "I let it know I would try the {kw} idea later, mostly to close the loop.",
    ],
    "explicit_affirmation": [
        "This was exactly what I needed; the explanation of {kw} was clear and easy to act on.",
        "I liked that it gave practical steps for {kw} instead of generic advice.",
        "Very helpful answer, especially the part about {kw2}.",
        "The response about {kw} was well organised and answered my question.",
        "Good answer, it confirmed what I suspected about {kw}.",
    ],
    "partial_satisfaction": [
        "The answer helped with {kw}, but it skipped {kw2}, which is the part I actually struggle with.",
        "Useful overall, though some suggestions about {kw} don't fit my situation.",
        "Partly helpful: the {kw} steps were fine but the budget advice was off.",
    ],
    "content_relevance": [
        "It talked a lot about {kw2} but barely about {kw}, which is what I asked for.",
        "The answer missed the key point about {kw} and added irrelevant details.",
        "It ignored the constraint I gave about {kw2}.",
    ],
    "presentation_style": [
        "The content about {kw} was fine, but the tone felt too formal and the structure was hard to scan.",
        "Too many headings and bold text; it made the advice on {kw} harder to read.",
        "The wording around {kw} was confusing and a bit robotic.",
    ],
    "scope_fit": [
        "Far too long for a simple question about {kw}; I only needed the key points.",
        "The answer on {kw} was too short and left out the details I wanted.",
        "It covered {kw2} and much more, which was broader than I needed.",
    ],
}
T_FILLER = [
    "since I only have about {n} days left",
    "and I wanted a second opinion before committing",
    "because the advice I found online about {kw2} was contradictory",
    "which matters for how I plan the next {n} weeks",
    "and I didn't want to waste money on the wrong thing",
    "as this is my first time dealing with {name}",
    "so I could move on to {kw2} afterwards",
    "especially given what it said earlier",
    "and it saved me a lot of time",
    "even though I had to read it twice",
]

S_SUMMARY = [
    "The user wanted to {goal} and asked the assistant about {kw} and {kw2}, refining the plan over several turns.",
    "The user sought help with {name}, specifically {kw}, in order to {goal} within their time and budget.",
    "The user was trying to {goal}; the conversation focused on {kw} with follow-ups on {kw2}.",
    "Help with {name}: the user needed practical guidance on {kw} so they could {goal}.",
]
S_EXPECT = [
    "The user expected clear, practical steps for {kw} that fit their situation, with some detail on {kw2}.",
    "They expected a concise and reliable answer about {kw}, ideally with concrete examples.",
    "The user wanted the assistant to explain {kw} simply and suggest realistic options to {goal}.",
    "They hoped for specific, actionable advice on {kw} rather than generic tips, in an easy-to-scan format.",
]
S_FILLER = [
    "They mentioned a deadline of about {n} days.",
    "Budget was a concern.",
    "They were a beginner in {name}.",
    "They also asked about {kw2}.",
    "They preferred a short format.",
    "They wanted to understand the reasoning.",
]

GENDERS = (["Male"] * 46 + ["Female"] * 48 + ["Non-binary"] * 3 + ["Prefer not to say"] * 3)
EDUCATION = (["High school"] * 10 + ["Some college"] * 10 + ["Undergraduate"] * 45
             + ["Graduate"] * 28 + ["Doctorate"] * 5 + ["Associate degree"] * 2)
OCCUPATIONS = [
    "Student", "student", "STUDENT", "Software engineer", "software developer", "Teacher",
    "teacher", "Nurse", "Interpreter", "Marketing Manager", "marketing", "unemployed",
    "Data analyst", "retired", "Freelance designer", "Accountant", "PhD student",
    "phd student", "Sales", "sales associate", "Researcher", "Engineer", "engineer",
    "Customer service", "Project manager", "Writer", "self-employed", "Lawyer",
    "Pharmacist", "Graduate Student", "Cashier", "Electrician", "Chef", "Consultant",
    "Homemaker", "Translator", "Administrative assistant", "Web Developer", "artist",
    "Barista", "Doctor", "Social worker", "Content creator", "Logistics", "IT support",
]
PURPOSES = [
    "coding", "writing emails", "searching for information", "studying", "brainstorming ideas",
    "translation", "summarizing articles", "planning trips", "recipes", "work tasks",
    "learning new topics", "health questions", "creative writing", "data analysis",
    "homework help", "shopping advice", "understanding", "working", "research",
]

EPOCH_START_MS = int(datetime(2026, 3, 26, tzinfo=UTC).timestamp() * 1000)
EPOCH_SPAN_MS = 30 * 24 * 3600 * 1000


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _ts_z(ms: int) -> str:
    """'2026-04-12T01:11:08.518Z'"""
    d = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        d.year, d.month, d.day, d.hour, d.minute, d.second, ms % 1000)


def _ts_iso(ms: int) -> str:
    """'2026-04-12T00:52:57.905000+00:00'"""
    d = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03d000+00:00" % (
        d.year, d.month, d.day, d.hour, d.minute, d.second, ms % 1000)


def _largest_remainder(weights, total):
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    raw = w / w.sum() * total
    base = np.floor(raw).astype(np.int64)
    rem = int(total - base.sum())
    if rem > 0:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rem]] += 1
    return base


def _scale_counts(scale):
    """Per-model (users, convs, messages, thoughts) at a scale."""
    out = []
    for name, prov, u, c, m, t in MODELS:
        cs = int(round(c * scale))
        if cs <= 0:
            continue
        us = min(max(1, int(round(u * scale))), cs)
        ms = max(2 * cs, 2 * int(round(m * scale / 2.0)))
        ms = min(ms, 2 * MAX_PAIRS * cs)
        ts = min(int(round(t * scale)), ms)
        out.append((name, prov, us, cs, ms, ts))
    return out


def _tilted_pmf(mean):
    k = np.arange(1, MAX_PAIRS + 1)
    lo, hi = -5.0, 5.0
    for _ in range(80):
        th = (lo + hi) / 2
        w = BASE_PAIR_PMF * np.exp(th * (k - 4))
        w = w / w.sum()
        if (w * k).sum() < mean:
            lo = th
        else:
            hi = th
    return w


def _pair_counts(rng, n_conv, n_pairs):
    pmf = _tilted_pmf(n_pairs / n_conv)
    x = rng.choice(np.arange(1, MAX_PAIRS + 1), size=n_conv, p=pmf).astype(np.int64)
    while True:
        diff = int(n_pairs - x.sum())
        if diff == 0:
            return x
        if diff > 0:
            cand = np.flatnonzero(x < MAX_PAIRS)
            w = x[cand].astype(float)
            pick = rng.choice(cand, size=min(diff, len(cand)), replace=False, p=w / w.sum())
            x[pick] += 1
        else:
            cand = np.flatnonzero(x > 1)
            w = x[cand].astype(float)
            pick = rng.choice(cand, size=min(-diff, len(cand)), replace=False, p=w / w.sum())
            x[pick] -= 1


def _convs_per_user(rng, n_users, n_conv):
    """Mostly 2 conversations per user, some 1, 3 or 4; sums to n_conv."""
    if n_conv >= 2 * n_users:
        x = np.full(n_users, 2, dtype=np.int64)
        extra = n_conv - 2 * n_users
        while extra > 0:
            k = min(extra, n_users)
            x[rng.choice(n_users, size=k, replace=False)] += 1
            extra -= k
    else:
        x = np.full(n_users, 2, dtype=np.int64)
        x[rng.choice(n_users, size=2 * n_users - n_conv, replace=False)] = 1
    # spread: move one conversation from a user with >=2 to another user
    for _ in range(int(0.12 * n_users)):
        a = int(rng.integers(n_users))
        b = int(rng.integers(n_users))
        if a != b and x[a] >= 2 and x[b] <= 3:
            x[a] -= 1
            x[b] += 1
    return x


def _ipf(rows, targets, init):
    """Fit matrix init (stages x labels) to row sums `rows` and column sums
    `targets`, then round rows exactly (largest remainder)."""
    m = init.astype(float) + 1e-9
    for _ in range(200):
        cs = m.sum(axis=0)
        m *= np.where(cs > 0, targets / np.maximum(cs, 1e-12), 0.0)
        rs = m.sum(axis=1, keepdims=True)
        m *= np.where(rs > 0, rows[:, None] / np.maximum(rs, 1e-12), 0.0)
    out = np.zeros_like(m, dtype=np.int64)
    for s in range(m.shape[0]):
        out[s] = _largest_remainder(m[s], int(rows[s])) if rows[s] > 0 else 0
    return out


# --------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------

def build_structure(scale=1.0, seed=0):
    """Return conversation skeletons (no text yet)."""
    rng = np.random.default_rng([seed, 20260520])
    per_model = _scale_counts(scale)
    n_users = sum(m[2] for m in per_model)

    # user numbers: distinct, from a range that grows with scale (gaps like a real id space)
    hi = max(n_users + 1, int(round(n_users * 1.12)) + 1)
    user_nums = np.sort(rng.choice(np.arange(1, hi + 1), size=n_users, replace=False))
    user_nums = rng.permutation(user_nums)

    convs = []        # dicts
    users = []        # (user_num, model_idx, n_conv)
    ui = 0
    for mi, (name, prov, U, C, M, T) in enumerate(per_model):
        cpu = _convs_per_user(rng, U, C)
        pairs = _pair_counts(rng, C, M // 2)
        rng.shuffle(pairs)
        nmsg = 2 * pairs
        # flattened message arrays for this model
        starts = np.concatenate([[0], np.cumsum(nmsg)[:-1]])
        conv_of = np.repeat(np.arange(C), nmsg)
        pos = np.arange(M) - starts[conv_of]
        n_of = nmsg[conv_of]
        is_user = (pos % 2) == 0
        w = np.where(is_user, 1.0, 0.97)
        w = np.where(pos == 0, 3.5, w)
        w = np.where(pos == n_of - 1, 1.15, w)
        n_double = int(round(0.02 * T))
        n_with = T - n_double
        if n_with > M:
            n_with, n_double = M, T - M
        keys = rng.random(M) ** (1.0 / w)
        chosen = np.argpartition(-keys, n_with - 1)[:n_with] if n_with > 0 else np.array([], dtype=np.int64)
        tcount = np.zeros(M, dtype=np.int64)
        tcount[chosen] = 1
        if n_double > 0:
            tcount[rng.choice(chosen, size=n_double, replace=False)] = 2
        rel = np.where(n_of > 1, pos / np.maximum(n_of - 1, 1), 0.0)
        stage = np.floor(3 * rel + 0.5).astype(np.int64)
        # null vs [] for messages with no thought
        null_empty = rng.random(M) < 0.35

        ci = 0
        for u in range(U):
            unum = int(user_nums[ui])
            users.append((unum, mi, int(cpu[u])))
            for k in range(int(cpu[u])):
                a, b = int(starts[ci]), int(starts[ci] + nmsg[ci])
                convs.append({
                    "user": unum, "task": k + 1, "model": mi, "uidx": ui,
                    "n": int(nmsg[ci]),
                    "tcount": tcount[a:b].tolist(),
                    "stage": stage[a:b].tolist(),
                    "null": null_empty[a:b].tolist(),
                })
                ci += 1
            ui += 1
        assert ci == C

    convs.sort(key=lambda c: (c["user"], c["task"]))

    # ---- labels: global IPF per kind (reasons on user msgs, reactions on assistant msgs)
    for kind, codes, shares, stage_p in (
        (0, REASON_CODES, REASON_SHARES, REASON_STAGE),
        (1, REACTION_CODES, REACTION_SHARES, REACTION_STAGE),
    ):
        slots = [[] for _ in range(4)]   # (conv idx, msg pos, j) per stage
        first_slots = set()
        for cidx, c in enumerate(convs):
            for p in range(kind, c["n"], 2):
                for j in range(c["tcount"][p]):
                    slots[c["stage"][p]].append((cidx, p, j))
                    if kind == 0 and p == 0:
                        first_slots.add((cidx, p, j))
        rows = np.array([len(s) for s in slots], dtype=float)
        total = int(rows.sum())
        targets = _largest_remainder([shares[k] for k in codes], total).astype(float)
        init = np.array([[stage_p[s][k] for k in codes] for s in range(4)]) * rows[:, None]
        counts = _ipf(rows, targets, init)
        for s in range(4):
            labels = np.repeat(np.arange(len(codes)), counts[s])
            labels = rng.permutation(labels).tolist()
            sl = slots[s]
            if kind == 0 and s == 0:
                # first user messages should not be continuations/reorientations:
                # swap such labels with those of later stage-0 messages
                bad = {codes.index("task_continuation"), codes.index("task_reorientation")}
                later = [i for i, t in enumerate(sl) if t not in first_slots and labels[i] not in bad]
                for i, t in enumerate(sl):
                    if t in first_slots and labels[i] in bad and later:
                        jx = later.pop()
                        labels[i], labels[jx] = labels[jx], labels[i]
            for (cidx, p, j), lab in zip(sl, labels):
                c = convs[cidx]
                c.setdefault("labels", {}).setdefault(p, []).append(codes[lab])

    return per_model, users, convs


def _choose_survey_sets(rng, users, n_empty, n_nullfreq):
    """Pick disjoint user sets whose conversation counts sum to the targets."""
    order = rng.permutation(len(users)).tolist()
    taken = set()

    def pick(target):
        chosen, s = [], 0
        for i in order:
            if i in taken:
                continue
            c = users[i][2]
            if s + c <= target:
                chosen.append(i)
                taken.add(i)
                s += c
                if s == target:
                    break
        return chosen

    return set(pick(n_empty)), set(pick(n_nullfreq))


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------

_FIELDS = {}


class _TextMaker:
    def __init__(self, seed):
        self.r = random.Random(seed * 7919 + 17)
        self.seen = set()
        self.counter = 0
        self.goal = None
        self.kws = None

    def start(self, topic):
        """Fix the goal and a handful of focus keywords for (a part of) a conversation."""
        r = self.r
        self.goal = r.choice(topic[2])
        self.kws = r.sample(topic[3], 5)
        return self.goal, self.kws

    def _unique(self, text, max_words, make):
        h = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        tries = 0
        while h in self.seen:
            tries += 1
            if tries < 4:
                text = make()
            else:
                self.counter += 1
                words = text.split(" ")
                if len(words) >= max_words:
                    text = " ".join(words[:max_words - 1])
                text = "%s (#%d)" % (text, self.counter)
            h = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        self.seen.add(h)
        return text

    def _fill(self, t, topic, kw=None):
        fields = _FIELDS.get(t)
        if fields is None:
            fields = _FIELDS[t] = frozenset(f for _, f, _, _ in string.Formatter().parse(t) if f)
        if not fields:
            return t
        r = self.r
        a = {}
        if "kw" in fields or "Kw" in fields or "kw2" in fields:
            kws = self.kws if (self.kws and r.random() < 0.75) else topic[3]
            k1 = kw or kws[int(r.random() * len(kws))]
            a["kw"] = k1
            a["Kw"] = k1[0].upper() + k1[1:]
            if "kw2" in fields:
                k2 = kws[int(r.random() * len(kws))]
                if k2 == k1:
                    k2 = topic[3][(topic[3].index(k1) + 1) % len(topic[3])] if k1 in topic[3] else topic[3][0]
                a["kw2"] = k2
        if "name" in fields:
            a["name"] = topic[1]
        if "goal" in fields:
            a["goal"] = self.goal or topic[2][0]
        if "n" in fields:
            a["n"] = 2 + int(r.random() * 40)
        if "p" in fields:
            a["p"] = 20 + int(r.random() * 60)
        if "m" in fields:
            m = 10 * (2 + int(r.random() * 60))
            a["m"] = m
            a["m2"] = m + 10 * (3 + int(r.random() * 50))
        return t.format(**a)

    # --- user message -------------------------------------------------------
    def user(self, topic, intent, prev_reaction, first=False):
        r = self.r
        target = int(r.triangular(15, 59, 26))

        def make():
            f = self._fill
            parts = []
            if first:
                if intent == "social_and_others":
                    parts.append(f(r.choice(U_GREETING), topic))
                parts.append(f(r.choice(U_MAIN["task_motivation"]), topic))
                if intent in ("context_grounding_and_constraints", "content_expectation", "style_expectation"):
                    parts.append(f(r.choice(U_MAIN[intent]), topic))
            else:
                if prev_reaction is not None and (prev_reaction != "explicit_affirmation" or r.random() < 0.4):
                    parts.append(f(r.choice(U_AFTER_REACTION[prev_reaction]), topic))
                parts.append(f(r.choice(U_MAIN[intent]), topic))
            wc = sum(len(p.split()) for p in parts)
            for fi in r.sample(range(len(U_FILLER)), 7):
                if wc >= target and wc >= 15:
                    break
                sx = f(U_FILLER[fi], topic)
                sw = len(sx.split())
                if wc + sw > 59:
                    continue
                parts.append(sx)
                wc += sw
            if not 15 <= wc <= 59:
                return make()
            return " ".join(parts)

        return self._unique(make(), 60, make)

    # --- assistant message --------------------------------------------------
    def assistant(self, topic, intent):
        r = self.r
        target = int(r.triangular(125, 360, 210))

        def make():
            f = self._fill
            kws = topic[3]
            focus = kws[int(r.random() * len(kws))]
            blocks = []
            if r.random() < 0.7:
                blocks.append(f(r.choice(A_TITLE), topic, focus))
            intro = f(r.choice(A_INTRO), topic, focus) + " " + f(r.choice(A_BODY), topic)
            blocks.append(intro)
            wc = sum(len(b.split()) for b in blocks)
            numbered = r.random() < 0.3 or intent == "style_expectation"
            items = []
            used = set()
            i = 0
            while wc < target - 25 and i < 14:
                kw = kws[int(r.random() * len(kws))]
                if kw in used and len(used) < len(kws):
                    continue
                used.add(kw)
                i += 1
                t1 = int(r.random() * len(A_BODY))
                body = f(A_BODY[t1], topic, kw)
                if r.random() < 0.55:
                    body += " " + f(A_BODY[(t1 + 1 + int(r.random() * (len(A_BODY) - 1))) % len(A_BODY)], topic, kw)
                lead = ("%d. " % i) if numbered else "- "
                item = "%s**%s:** %s" % (lead, kw[0].upper() + kw[1:], body)
                items.append(item)
                wc += len(item.split())
                if r.random() < 0.12 and wc < target - 60:
                    sub = "    - " + f(r.choice(A_BODY), topic, kw)
                    items.append(sub)
                    wc += len(sub.split())
            items_idx = len(blocks)
            blocks.append("\n".join(items))
            if wc < target and r.random() < 0.5:
                t1 = int(r.random() * len(A_BODY))
                para = f(A_BODY[t1], topic) + " " + f(A_BODY[(t1 + 7) % len(A_BODY)], topic)
                blocks.append(para)
                wc += len(para.split())
            close = f(r.choice(A_CLOSE), topic)
            blocks.append(close)
            wc += len(close.split())
            while wc < 120:
                para = f(r.choice(A_BODY), topic)
                blocks.insert(-1, para)
                wc += len(para.split())
            text = "\n\n".join(blocks)
            while len(text.split()) > 399 and len(items) > 1:
                items.pop()
                blocks[items_idx] = "\n".join(items)
                text = "\n\n".join(blocks)
            return text

        return self._unique(make(), 400, make)

    # --- thought --------------------------------------------------------------
    def thought(self, topic, label, first=False):
        r = self.r
        target = int(r.triangular(12, 33, 19))
        pool = T_MAIN["social_first" if (first and label == "social_and_others") else label]

        def make():
            s = self._fill(r.choice(pool), topic)
            wc = len(s.split())
            guard = 0
            while wc < target and guard < 4:
                guard += 1
                add = self._fill(r.choice(T_FILLER), topic)
                aw = len(add.split())
                if wc + aw > 34:
                    continue
                s = s[:-1] + ", " + add + "."
                wc += aw
            while wc < 12:
                add = self._fill(r.choice(T_FILLER), topic)
                s = s[:-1] + ", " + add + "."
                wc += len(add.split())
            return s

        return self._unique(make(), 35, make)

    def summary(self, topic, pool, state):
        r = self.r
        self.goal, self.kws = state
        target = int(r.uniform(15, 33))

        def make():
            s = self._fill(r.choice(pool), topic)
            wc = len(s.split())
            guard = 0
            while wc < target and guard < 4:
                guard += 1
                add = self._fill(r.choice(S_FILLER), topic)
                aw = len(add.split())
                if wc + aw > 34:
                    continue
                s += " " + add
                wc += aw
            return s

        return self._unique(make(), 35, make)


def _survey(r, kind, garbage_age):
    if kind == "empty":
        return []
    age = garbage_age if garbage_age else str(int(min(75, max(18, r.gauss(29, 9)))))
    purposes = r.sample(PURPOSES, 1 + int(r.random() * 4))
    ptxt = ", ".join(purposes)
    style = r.random()
    if style < 0.4:
        ptxt = ptxt[0].upper() + ptxt[1:]
    elif style < 0.6:
        ptxt = ptxt + ", and many other uses."
    freq = None if kind == "nullfreq" else r.choices(["1", "2", "3", "4", "5"], [3, 6, 15, 30, 46])[0]
    return [{
        "age": age,
        "gender": r.choice(GENDERS),
        "education": r.choice(EDUCATION),
        "occupation": r.choice(OCCUPATIONS),
        "frequency": freq,
        "purposes": ptxt,
    }]


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------

def generate(scale=1.0, seed=0):
    """Yield corpus records (dicts, key order as in the release)."""
    per_model, users, convs = build_structure(scale, seed)
    rng = np.random.default_rng([seed, 7])
    r = random.Random(seed * 104729 + 3)
    tm = _TextMaker(seed)

    empty_u, null_u = _choose_survey_sets(
        rng, users, int(round(N_EMPTY_SURVEY * scale)), int(round(N_NULL_FREQUENCY * scale)))
    n_garb = max(1, int(round(N_GARBAGE_AGE_USERS * scale))) if users else 0
    cand = [i for i in range(len(users)) if i not in empty_u]
    garbage = {}
    for j, i in enumerate(rng.choice(cand, size=min(n_garb, len(cand)), replace=False).tolist()):
        garbage[i] = GARBAGE_AGES[j % len(GARBAGE_AGES)]
    surveys = {}
    user_clock = {}
    for i, (unum, mi, nc) in enumerate(users):
        kind = "empty" if i in empty_u else ("nullfreq" if i in null_u else "full")
        surveys[i] = _survey(r, kind, garbage.get(i))
        user_clock[i] = EPOCH_START_MS + int(r.random() * EPOCH_SPAN_MS)

    topic_draws = rng.choice(len(SUBTOPICS), size=len(convs), p=SUBTOPIC_P).tolist()
    used_ids = set()

    for cidx, c in enumerate(convs):
        ui = c["uidx"]
        name, prov = per_model[c["model"]][0], per_model[c["model"]][1]
        topic_i = topic_draws[cidx]
        topic = SUBTOPICS[topic_i]
        first_topic = topic
        first_state = tm.start(topic)
        created = user_clock[ui] + int(r.random() * 3600_000)
        t = created + 60_000 + int(r.random() * 900_000)   # survey, instructions
        labels = c.get("labels", {})
        msgs = []
        prev_reaction = None
        last_user_intent = "task_motivation"
        last_event = t
        for p in range(c["n"]):
            is_user = (p % 2 == 0)
            labs = labels.get(p, [])
            if is_user:
                if labs:
                    intent = labs[0]
                elif p == 0:
                    intent = "task_motivation"
                else:
                    intent = r.choices(
                        ["task_continuation", "content_expectation", "context_grounding_and_constraints",
                         "style_expectation", "social_and_others"], [50, 20, 15, 8, 7])[0]
                if "task_reorientation" in labs and p > 0:
                    d = DOMAIN_OF[topic_i]
                    same = [k for k in range(len(SUBTOPICS)) if DOMAIN_OF[k] == d and k != topic_i]
                    topic_i = r.choice(same) if same and r.random() < 0.7 else int(r.random() * len(SUBTOPICS))
                    topic = SUBTOPICS[topic_i]
                    tm.start(topic)
                content = tm.user(topic, intent, prev_reaction, first=(p == 0))
                last_user_intent = intent
                mid = t
            else:
                content = tm.assistant(topic, last_user_intent)
                mid = t
            while mid in used_ids:
                mid += 1
            used_ids.add(mid)
            ts = _ts_z(mid)
            th_t = mid + (8_000 if is_user else 4_000) + int(r.random() * 40_000)
            thoughts = []
            for lab in labs:
                thoughts.append({"content": tm.thought(topic, lab, first=(p == 0)), "timestamp": _ts_z(th_t), "label": lab})
                th_t += 5_000 + int(r.random() * 30_000)
            if thoughts:
                tl = thoughts
                last_event = th_t
            else:
                tl = None if c["null"][p] else []
                last_event = mid
            key = "reasons" if is_user else "reactions"
            msgs.append({"content": content, "timestamp": ts,
                         "type": "user" if is_user else "assistant", "id": mid, key: tl})
            if is_user:
                t = mid + 2_000 + int(r.random() * 30_000)
            else:
                prev_reaction = labs[0] if labs else None
                t = max(last_event, mid) + 15_000 + int(r.random() * 240_000)
        updated = last_event + 500 + int(r.random() * 20_000)
        user_clock[ui] = updated + 60_000 + int(r.random() * 3 * 3600_000)
        yield {
            "id": "user%d_task%d_conversation1" % (c["user"], c["task"]),
            "messages": msgs,
            "model_name": name,
            "model_provider": prov,
            "created_at": _ts_iso(created),
            "updated_at": _ts_iso(updated),
            "task_summary": tm.summary(first_topic, S_SUMMARY, first_state),
            "task_expectation": tm.summary(first_topic, S_EXPECT, first_state),
            "survey_answers": surveys[ui],
        }


def write_corpus(out, scale=1.0, seed=0, gzip_out=None):
    """Write the corpus to `out`; returns a stats dict."""
    out = Path(out)
    if gzip_out is None:
        gzip_out = out.suffix == ".gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stats = {"conversations": 0, "messages": 0, "thoughts": 0}
    users, models = set(), set()
    raw = open(out, "wb")
    fh = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) if gzip_out else raw
    try:
        buf = []
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        for rec in generate(scale, seed):
            stats["conversations"] += 1
            stats["messages"] += len(rec["messages"])
            for m in rec["messages"]:
                tl = m.get("reasons") if m["type"] == "user" else m.get("reactions")
                if tl:
                    stats["thoughts"] += len(tl)
            users.add(rec["id"].split("_", 1)[0])
            models.add(rec["model_name"])
            buf.append(dumps(rec))
            if len(buf) >= 500:
                fh.write(("\n".join(buf) + "\n").encode("utf-8"))
                buf = []
        if buf:
            fh.write(("\n".join(buf) + "\n").encode("utf-8"))
    finally:
        if gzip_out:
            fh.close()
        raw.close()
    stats["users"] = len(users)
    stats["models"] = len(models)
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    stats["path"] = str(out)
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplier of the published counts (1 = published size; floats allowed, e.g. 0.05)")
    ap.add_argument("--out", default=None,
                    help="output path (default benchmarks/corpora/thoughttrace_<scale>x.jsonl[.gz])")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gzip", action="store_true", help="gzip the output (appends .gz if missing)")
    a = ap.parse_args(argv)
    if a.scale <= 0:
        ap.error("--scale must be > 0")
    out = a.out
    if out is None:
        tag = ("%g" % a.scale).replace(".", "p")
        out = str(Path(__file__).resolve().parent / "corpora" / ("thoughttrace_%sx.jsonl" % tag))
    if a.gzip and not out.endswith(".gz"):
        out += ".gz"
    s = write_corpus(out, a.scale, a.seed, gzip_out=a.gzip or out.endswith(".gz"))
    print("conversations=%d users=%d messages=%d thoughts=%d models=%d seconds=%.2f out=%s" % (
        s["conversations"], s["users"], s["messages"], s["thoughts"], s["models"], s["seconds"], s["path"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
