package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	TenantID  *string   `json:"tenant_id"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func tenantIDOrNull(t domain.TenantID) *string {
	if t == "" {
		return nil
	}
	s := string(t)
	return &s
}

// UserRepresentation is a user as the user routes show it, for other presenters such
// as the CLI.
func UserRepresentation(u domain.User) any { return toUserJSON(u) }

func toUserJSON(u domain.User) userJSON {
	return userJSON{ID: string(u.ID), Email: string(u.Email), Role: string(u.Role), TenantID: tenantIDOrNull(u.TenantID),
		Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type userHandlers struct {
	profile  *application.Profile
	users    *application.ManageUsers
	password *application.ChangePassword
}

// me serves GET /users/me; it needs a token but no tenant. Its body (the Me schema:
// id, email, role, tenant_id, tenant {id, name} or null, created_at) is appended by
// appendMe rather than encoded through reflection: this is the lightest authenticated
// route, and the yardstick of the authenticated-overhead target of issue 8.
func (h userHandlers) me(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	u, t, err := h.profile.Execute(c.Request().Context(), p)
	if err != nil {
		return err
	}
	body, err := appendMe(make([]byte, 0, 320), &u, &t)
	if err != nil {
		return domain.E(domain.KindInternal, codeInternal, "", err)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, mimeJSON)
	res.WriteHeader(http.StatusOK)
	_, err = res.Write(body)
	return err
}

// appendMe appends the Me body of user u, whose tenant is t (ignored unless
// u.HasTenant()), byte for byte as marshalJSON would encode it, final newline included.
func appendMe(b []byte, u *domain.User, t *domain.Tenant) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, string(u.ID))
	b = append(b, `,"email":`...)
	b = appendJSONString(b, string(u.Email))
	b = append(b, `,"role":`...)
	b = appendJSONString(b, string(u.Role))
	if u.HasTenant() {
		b = append(b, `,"tenant_id":`...)
		b = appendJSONString(b, string(u.TenantID))
		b = append(b, `,"tenant":{"id":`...)
		b = appendJSONString(b, string(t.ID))
		b = append(b, `,"name":`...)
		b = appendJSONString(b, t.Name)
		b = append(b, '}')
	} else {
		b = append(b, `,"tenant_id":null,"tenant":null`...)
	}
	b = append(b, `,"created_at":`...)
	b, err := appendJSONTime(b, u.CreatedAt)
	if err != nil {
		return nil, err
	}
	return append(b, "}\n"...), nil
}

type createUserRequest struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Role     string  `json:"role"`
	TenantID *string `json:"tenant_id"`
}

func (r createUserRequest) input() (application.NewUserInput, error) {
	in := application.NewUserInput{Email: r.Email, Password: r.Password}
	var fs []domain.FieldError
	if r.Role != "" {
		role, err := domain.ParseRole(r.Role)
		if err != nil {
			fs = append(fs, domain.FieldError{Field: "role", Message: "must be member, tenant_admin or platform_admin"})
		}
		in.Role = role
	}
	if r.TenantID != nil && *r.TenantID != "" {
		tid, err := domain.ParseTenantID(*r.TenantID)
		if err != nil {
			fs = append(fs, domain.FieldError{Field: "tenant_id", Message: "is not a valid tenant id"})
		}
		in.TenantID = tid
	}
	if len(fs) > 0 {
		return in, domain.Invalid(fs...)
	}
	return in, nil
}

// createAny serves POST /admin/users.
func (h userHandlers) createAny(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	return h.create(c, p, in)
}

// tenantUserRequest is POST /tenant/users: the tenant is the caller's, never the body's.
type tenantUserRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// createInTenant serves POST /tenant/users.
func (h userHandlers) createInTenant(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	var req tenantUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in, err := createUserRequest{Email: req.Email, Password: req.Password, Role: req.Role}.input()
	if err != nil {
		return err
	}
	in.TenantID = tc.Tenant.ID
	return h.create(c, tc.Principal, in)
}

func (h userHandlers) create(c echo.Context, p domain.Principal, in application.NewUserInput) error {
	u, err := h.users.Create(c.Request().Context(), actor(c, p), in)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusCreated, toUserJSON(u))
}

// listAny serves GET /admin/users, optionally narrowed by ?tenant_id=.
func (h userHandlers) listAny(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(c)
	if err != nil {
		return err
	}
	return h.list(c, p, tenant)
}

// tenantFilter reads the optional ?tenant_id= of platform-admin listings. It narrows
// what an administrator sees; it never selects a request's tenant context.
func tenantFilter(c echo.Context) (domain.TenantID, error) {
	vs, ok := c.QueryParams()["tenant_id"]
	if !ok {
		return "", nil
	}
	if len(vs) != 1 {
		return "", domain.Invalid(domain.FieldError{Field: "tenant_id", Message: "must be given once"})
	}
	id, err := domain.ParseTenantID(vs[0])
	if err != nil {
		return "", domain.Invalid(domain.FieldError{Field: "tenant_id", Message: "is not a valid tenant id"})
	}
	return id, nil
}

// listInTenant serves GET /tenant/users.
func (h userHandlers) listInTenant(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	return h.list(c, tc.Principal, tc.Tenant.ID)
}

func (h userHandlers) list(c echo.Context, p domain.Principal, tenant domain.TenantID) error {
	return sendScopedList(c, p, tenant, h.users.List, toUserJSON)
}

// patchAny serves PATCH /admin/users/{id}.
func (h userHandlers) patchAny(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	return h.patch(c, actor(c, p))
}

// patchInTenant serves PATCH /tenant/users/{id}; the use case answers 404 for a user
// outside the caller's tenant.
func (h userHandlers) patchInTenant(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	who := actor(c, tc.Principal)
	who.Scope = tc.Tenant.ID
	return h.patch(c, who)
}

func (h userHandlers) patch(c echo.Context, who application.Actor) error {
	id := domain.UserID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return domain.ErrNotFound.WithDetail("no such user")
	}
	body, err := readJSONBody(c, mimeMergePatch, mimeJSON)
	if err != nil {
		return err
	}
	patch, err := parseUserPatch(body)
	if err != nil {
		return err
	}
	if patch.Password != nil {
		// Checked before any change, so a bad password leaves the user untouched.
		if err := domain.ValidatePassword(*patch.Password); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	var u domain.User
	if patch.Password == nil || len(patch.Fields()) > 0 {
		if u, err = h.users.Update(ctx, who, id, patch.UserPatch); err != nil {
			return err
		}
	}
	if patch.Password != nil {
		if u, err = h.users.SetPassword(ctx, who, id, *patch.Password); err != nil {
			return err
		}
	}
	return sendJSON(c, http.StatusOK, toUserJSON(u))
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword serves POST /users/me/password: the caller's own password, proven by
// the current one. Every other session ends; the answer carries fresh tokens for this one.
func (h userHandlers) changePassword(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	var req changePasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	toks, err := h.password.Execute(c.Request().Context(), actor(c, p),
		application.ChangePasswordInput{Current: req.CurrentPassword, New: req.NewPassword})
	if err != nil {
		return err
	}
	noStore(c)
	return sendJSON(c, http.StatusOK, tokenResponse{AccessToken: toks.AccessToken, TokenType: "bearer",
		ExpiresIn: int64(toks.ExpiresIn.Seconds()), RefreshToken: toks.RefreshToken})
}
