package domain

// Role is what a user may do in a plan.
type Role string

// Roles. A user has one role per plan.
const (
	RoleOperationalGroup Role = "operational_group" // operationel gruppe: proposes and reports
	RoleBoard            Role = "board"             // bestyrelse: decides
	RoleFinance          Role = "finance"           // økonomi: pays tranches
	RoleAdmin            Role = "admin"             // sekretariat: keeps the plan's data
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleOperationalGroup, RoleBoard, RoleFinance, RoleAdmin:
		return true
	}
	return false
}

// DanishName is the role as Danish users call it.
func (r Role) DanishName() string {
	switch r {
	case RoleOperationalGroup:
		return "operationel gruppe"
	case RoleBoard:
		return "bestyrelse"
	case RoleFinance:
		return "økonomi"
	case RoleAdmin:
		return "sekretariat"
	}
	return string(r)
}

// User is a person who works with a plan.
type User struct {
	ID     string `json:"id" yaml:"id"`
	Name   string `json:"name" yaml:"name"`
	Email  string `json:"email" yaml:"email"`
	PlanID string `json:"plan_id" yaml:"plan_id"`
	Role   Role   `json:"role" yaml:"role"`
	Title  string `json:"title,omitempty" yaml:"title,omitempty"` // e.g. "formand" for the board's chair
}

// Actor is who performed an action, as recorded in the event log and sent to workflows.
type Actor struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
}
