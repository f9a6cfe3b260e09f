"""Participants, on two tabs bound to the URL (``?view=One+participant``).

*Everyone*: who took part, from the survey answers of the filtered conversations — age
bracket, gender, education, occupation, AI-use frequency and purposes (keyword groups) —
counted per conversation and per user, with missing and invalid answers as their own bars.

*One participant* (``pid`` = the user id in the URL): that user's survey answers (as
stored with each of their conversations), the model they talked to, their conversations
with links, and their thought-type profile against everyone else's with user-level
bootstrap intervals; a button narrows every page to them (the sidebar's user filter).
Only the open tab runs.
"""

import streamlit as st

from components import links
from components.figures import catalogue
from components.queries import participant as one
from components.queries import participants
from components.ui import charts, compare, notices, sidebar, state, tables
from components.vocabulary import CREDIT, count

filters = sidebar.current_filters()
ss = st.session_state

st.title("Participants")
totals = notices.subset_totals(filters, "so there are no participants to describe")

VIEWS = (one.VIEW_EVERYONE, one.VIEW_ONE)
everyone_tab, one_tab = st.tabs(VIEWS, key="view", bind="query-params")
#: The picker's session key, and the last ``pid`` this page wrote to (or read from) the URL.
PID = "pp_pid"
_PID_SEEN = "_pp_pid_url"
_USERS_SEEN = "_pp_users"


def everyone() -> None:
    """The survey charts of every participant under the filters."""
    st.caption("Survey answers of the people behind the selected conversations, in the "
               "paper's groupings (Fig. 2) and counted by **users**, as the paper does; our "
               "finer groupings and conversation counts are one toggle away. Answers are "
               "stored with each conversation, so a user whose answers differ between "
               "conversations counts under each. Missing answers are a bar of their own, "
               "never dropped.")
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    count_by = c1.radio("Count", ["users", "both", "conversations"], horizontal=True,
                        key="pp_count", persist_state="page",
                        format_func={"both": "both", "conversations": "conversations",
                                     "users": "users"}.get,
                        help="The paper counts users; answers are stored per conversation.")
    finer = c2.toggle("Our finer groupings", value=False, key="pp_finer", persist_state="page",
                      help="Off: the paper's groupings (Fig. 2). On: the normalised answers "
                           "and our 8 purpose groups, with the top N occupations.")
    grouping = "detailed" if finer else "paper"
    top_n = c3.slider("Occupations shown (top N)", 5, 40, 15, key="pp_top_n",
                      disabled=not finer, persist_state="page")
    show = ("conversations", "users") if count_by == "both" else (count_by,)
    results = state.query(participants.participant_counts_all, filters, int(top_n), grouping)
    any_result = results["age"]
    c4.metric("Users · conversations",
              f"{any_result['users']:,} · {any_result['conversations']:,}",
              help="Conversations without any survey answers: "
                   f"{any_result['no_survey']:,} (counted as (missing) everywhere).")

    # one per row: full-width titles stay readable (and match the exported figure)
    for field in ("age", "gender", "education", "ai_frequency", "occupation", "purposes"):
        charts.show(catalogue.PARTICIPANTS, filters,
                    name=f"participants-{field.replace('_', '-')}", key=f"pp_{field}",
                    field=field, top_n=int(top_n), show=show, grouping=grouping)
    with st.expander("Purpose keyword groups"):
        st.caption("An answer is in a group when one of its words starts with a keyword (a "
                   "keyword ending in “.” must be the whole word). Answers matching no "
                   "keyword are “(no group matched)”.")
        tables.dataframe(participants.keyword_groups_table(grouping), hide_index=True,
                        width="stretch")
    compare.section(filters, ("age", "gender", "education", "ai_frequency"), key="pp")


def _code(text: str) -> str:
    """Dataset text (a user id) as an inline code span: no markdown, no HTML."""
    return "`" + str(text)[:80].replace("`", "'") + "`"


def _show_only(user: str) -> None:
    """The sidebar's user filter set to ``user`` (every page then shows only them)."""
    ss[sidebar._widget_key("users")] = user


def _pick_participant() -> str | None:
    """The picker (and the button beside it); the chosen user id, mirrored into the URL
    as ``pid``. A link's ``pid`` wins on arrival; otherwise the sidebar's first user when
    one is set, else the first option."""
    opts = state.query(one.participant_options, filters)
    users, n_conv, models = opts["users"], opts["n"], opts["models"]
    info = {u: (n, m) for u, n, m in zip(users, n_conv, models)}
    default = filters.users[0] if filters.users else (users[0] if users else None)
    if ss.get(_USERS_SEEN) != filters.users:  # first visit, or the sidebar's users changed
        ss[_USERS_SEEN] = filters.users
        if filters.users or ss.get(PID) is None:
            ss[PID] = default
    url_pid = (st.query_params.get_all("pid") or [None])[0]
    if url_pid is not None and url_pid != ss.get(_PID_SEEN):  # a link
        ss[PID] = url_pid.strip()[:200] or default
    current = ss.get(PID)
    options = list(users)
    if current and current not in info:
        options.insert(0, current)

    def label(u: str) -> str:
        if u not in info:
            return f"{u} · not among the participants under the filters"
        n, model = info[u]
        return f"{u} · {count(n, 'conversation')} · {model}"

    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    pid = c1.selectbox(
        "Participant", options, key=PID, accept_new_options=True, persist_state="page",
        format_func=label, placeholder="type a user id, e.g. user804",
        help=f"{count(opts['total'], 'participant')} under the sidebar filters, most "
             "conversations first"
             + (f"; the list shows the first {len(users):,}, type any other id"
                if opts["total"] > len(users) else "") + ".")
    pid = (pid or "").strip() or None
    only = bool(pid) and filters.users == (pid,)
    c2.button("Show only this participant everywhere", icon=":material/person_search:",
              on_click=_show_only, args=(pid,), disabled=not pid or only, key="pp_only",
              help="Sets the sidebar's user filter to this participant (URL `user=`), so "
                   "every page shows only their conversations."
                   + (" It is set already." if only else ""))
    ss[_PID_SEEN] = pid
    if pid is None:
        if "pid" in st.query_params:
            del st.query_params["pid"]
    elif st.query_params.get("pid") != pid:
        st.query_params["pid"] = pid
    return pid


def one_participant() -> None:
    """One user: survey answers, model, conversations and thought-type profile."""
    st.caption("One participant's conversations under the sidebar filters, their survey "
               "answers and their thought types against everyone else's (the sidebar's user "
               "filter only picks whom this tab is about: the comparison is with every other "
               "user under the other filters).")
    pid = _pick_participant()
    if pid is None:
        st.info("Pick a participant above, or type a user id.", icon=":material/person:")
        return
    convs = state.query(one.participant_conversations, filters, pid)
    if convs.is_empty():
        n_all = state.query(one.user_conversation_count, pid)
        if n_all == 0:
            st.info(f"Participant {_code(pid)} is not in this database (a stale or mistyped "
                    "link, or an id from another build). Pick one from the list.",
                    icon=":material/person_off:")
        else:
            st.info(f"Participant {_code(pid)} has {count(n_all, 'conversation')} in the "
                    "database, none of them under the current filters. Loosen the filters "
                    "in the sidebar, or pick another participant.",
                    icon=":material/filter_alt_off:")
        return
    n_all = state.query(one.user_conversation_count, pid)
    models = list(dict.fromkeys(m for m in convs["model_name"].to_list() if m))
    providers = list(dict.fromkeys(p for p in convs["model_provider"].to_list() if p))
    st.subheader(f"Participant {_code(pid)}", anchor=False)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Conversations", f"{convs.height:,}",
              help=None if n_all == convs.height else
              f"{n_all:,} in the database; the others are outside the sidebar filters.")
    m2.metric("Messages", f"{int(convs['n_messages'].sum()):,}")
    m3.metric("Reasons · reactions", f"{int(convs['n_reasons'].sum()):,} · "
                                     f"{int(convs['n_reactions'].sum()):,}")
    m4.metric("Model", ", ".join(models) or "—", help=", ".join(providers) or None)
    if len(models) > 1:
        st.caption(f":material/info: This participant talked to {len(models)} models; in the "
                   "study each user talked to one.")
    if n_all != convs.height:
        st.caption(f"{count(convs.height, 'conversation')} of their {n_all:,} under the "
                   "sidebar filters: everything below is about these.")

    st.markdown("##### Survey answers")
    survey = one.survey_answers(convs)
    tables.dataframe(survey["table"].select("question", "answer"), hide_index=True,
                    width="stretch", column_config={
                        "question": st.column_config.TextColumn(width=200),
                        "answer": st.column_config.TextColumn(width="large")})
    notes = ["Answers are stored with each conversation; “—” = no answer."]
    if survey["differs"]:
        notes.append("**They differ between this participant's conversations** for: "
                     + ", ".join(survey["differs"]) + " (every answer given is shown, "
                     "separated by “/”; per conversation below).")
    if survey["no_survey"]:
        notes.append(f"{count(len(survey['no_survey']), 'conversation')} without survey "
                     "answers.")
    st.caption(" ".join(notes))
    if survey["differs"]:
        with st.expander("Answers per conversation"):
            tables.dataframe(survey["per_conversation"], hide_index=True, width="stretch")

    st.markdown("##### Conversations")
    table = one.conversation_table(convs, sidebar.url_params())
    tables.dataframe(table, hide_index=True, width="stretch", column_config={
        "conversation": st.column_config.LinkColumn(
            "conversation (opens it)", display_text=r"conv=([^&#]+)", width=230),
        "task summary": st.column_config.TextColumn(width=360),
        "model": st.column_config.TextColumn(width=140),
        "dissatisfied": st.column_config.NumberColumn(
            help="reactions labelled Content Relevance, Presentation Style or Scope Fit"),
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    st.caption("Each link opens the conversation on the Conversations page with the sidebar "
               "filters kept. [All of them in the list, grouped by participant]("
               + links.page_url("conversations", {**sidebar.url_params(), "user": [pid]},
                                group="user") + ").")

    st.markdown("##### Thought types against everyone else's")
    charts.show(catalogue.PARTICIPANT_PROFILE, filters, name=f"participant-profile-{pid}",
                key="pp_profile", user=pid)
    st.caption(f"For each kind, the participant's share of a label is their thoughts with "
               f"it over their thoughts of that kind (n on each bar). Everyone else: every "
               f"other user under the sidebar filters (the user filter aside; {_code(pid)} "
               f"excluded), their pooled share, with a 95% interval from a bootstrap over "
               f"users: 1,000 resamples of whole users, each with all their thoughts, since "
               f"one user's conversations are not independent.")


if everyone_tab.open:
    if "pid" in st.query_params:  # the participant's id belongs to the other tab's view
        del st.query_params["pid"]
    with everyone_tab:
        everyone()
if one_tab.open:
    with one_tab:
        one_participant()
st.caption(CREDIT)
