// Package domain holds the vocabulary of a boligsocial helhedsplan: plans, funding sources, delaftaler, housing
// areas, users and roles, initiatives and their phases, and the pure business rules that decide whether an action
// is allowed. It does no I/O and imports nothing of this module, so workflows, activities, the store and the API
// can all share it.
package domain
