"""Rules a user might write in ten minutes for YouTube comment spam (comments under music
videos), from general knowledge: spam promotes a channel, a link or a money scheme and
begs for subscriptions, likes and shares; ham talks about the song, the singer, the view
count, or is a short reaction. Written before looking at any results, not tuned on a split."""

import re

from fewlabels import rule

LINK = re.compile(r"https?://|www\.|\.com\b|bit\.ly|youtu\.be", re.IGNORECASE)
PROMO = ("my channel", "my video", "my page", "check out", "check my", "my music", "my new song", "my cover",
         "my youtube")
BEGGING = ("please share", "like this comment", "thumbs up", "please like", "give me a like", "follow me",
           "support me")
MONEY = re.compile(r"\b(make money|earn|free gift|giveaway|cash|paypal|gift card|win a|bitcoin)\b|\$",
                   re.IGNORECASE)
SONG = ("song", "love this", "voice", "dance", "beat", "lyrics", "music video", "best video", "chorus")


@rule
def has_link(text):
    return "spam" if LINK.search(text) else None


@rule
def asks_to_subscribe(text):
    return "spam" if "subscrib" in text.lower() else None


@rule
def self_promotion(text):
    t = text.lower()
    return "spam" if any(p in t for p in PROMO) else None


@rule
def begs_for_likes_or_shares(text):
    t = text.lower()
    return "spam" if any(p in t for p in BEGGING) else None


@rule
def money(text):
    return "spam" if MONEY.search(text) else None


@rule
def short_reaction(text):
    return "ham" if len(text.split()) <= 5 and not LINK.search(text) else None


@rule
def talks_about_the_song(text):
    t = text.lower()
    return "ham" if any(w in t for w in SONG) and not any(p in t for p in PROMO) else None


@rule
def view_count(text):
    return "ham" if re.search(r"\b(billion|million|views)\b", text, re.IGNORECASE) else None


@rule
def watching_in_year(text):  # "who is still watching in 2015?"
    return "ham" if re.search(r"\b20[12]\d\b", text) and not LINK.search(text) else None
