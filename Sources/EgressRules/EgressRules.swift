// Rule targets and the first-match rule table (see RuleTable.swift).
