"""Planner tools: labelling what-if, permanence siting (MCLP), caravane tours."""
