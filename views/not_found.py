"""Shown for a URL path that is no page of this app: says so and links to every page."""

import streamlit as st

from components.links import PAGES

path = st.session_state.get("_not_found_path", "")
st.title("Page not found")
st.warning(f"`/{path[:100].replace('`', '')}` is not a page of ThoughtTrace Explorer (an old "
           "or mistyped link). Choose a page below or in the sidebar.",
           icon=":material/link_off:")
st.markdown("**The pages of the app:**")
for script, title, icon in PAGES.values():
    st.page_link(script, label=title, icon=icon)
