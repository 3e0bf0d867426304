// Command oracle reads aws-auth ConfigMap data the way aws-iam-authenticator v0.7.8 does, by
// calling its own mapper (pkg/mapper/configmap.ParseMap, which runs go-yaml, encoding/json and
// each entry's Validate), and prints what that puts in effect. It is the independent reading
// the Rust tests compare chronom's lenient aws-auth reader with.
//
// stdin:  a JSON array of ConfigMap data objects, e.g. [{"mapRoles": "- rolearn: ..."}]
//         (a key that is absent is absent from the ConfigMap, as for ParseMap).
// stdout: a JSON array, one result per input, in order:
//
//	{"roles": [...], "users": [...], "accounts": [...], "roleKeys": [...], "error": "..."}
//
// roles/users/accounts are ParseMap's lists, in order (entries that failed Validate are not
// in them). roleKeys are the keys saveMap files the roles under (RoleMapping.Key, last wins),
// sorted; error is ParseMap's error text, or "" when it had none.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
)

type sso struct {
	PermissionSetName string `json:"permissionSetName"`
	AccountID         string `json:"accountID"`
	Partition         string `json:"partition"`
}

// role and user spell out every field (no omitempty), so that the Rust side compares all of
// them: nil and empty group lists both print as [].
type role struct {
	RoleARN  string   `json:"rolearn"`
	SSO      *sso     `json:"sso"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	UserID   string   `json:"userid"`
}

type user struct {
	UserARN  string   `json:"userarn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	UserID   string   `json:"userid"`
}

type result struct {
	Roles    []role   `json:"roles"`
	Users    []user   `json:"users"`
	Accounts []string `json:"accounts"`
	RoleKeys []string `json:"roleKeys"`
	Error    string   `json:"error"`
}

func groups(g []string) []string {
	if g == nil {
		return []string{}
	}
	return g
}

func read(data map[string]string) (res result) {
	users, roles, accounts, err := configmap.ParseMap(data)
	res = result{Roles: []role{}, Users: []user{}, Accounts: []string{}, RoleKeys: []string{}}
	if err != nil {
		res.Error = err.Error()
	}
	keys := map[string]bool{}
	for _, r := range roles {
		out := role{RoleARN: r.RoleARN, Username: r.Username, Groups: groups(r.Groups), UserID: r.UserId}
		if r.SSO != nil {
			out.SSO = &sso{r.SSO.PermissionSetName, r.SSO.AccountID, r.SSO.Partition}
		}
		res.Roles = append(res.Roles, out)
		keys[r.Key()] = true
	}
	for k := range keys {
		res.RoleKeys = append(res.RoleKeys, k)
	}
	sort.Strings(res.RoleKeys)
	for _, u := range users {
		res.Users = append(res.Users, user{u.UserARN, u.Username, groups(u.Groups), u.UserId})
	}
	res.Accounts = append(res.Accounts, accounts...)
	return res
}

// readGuarded turns a panic inside the mapper into an error result, so that one document
// cannot end the whole batch.
func readGuarded(data map[string]string) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{Roles: []role{}, Users: []user{}, Accounts: []string{}, RoleKeys: []string{}, Error: fmt.Sprintf("panic: %v", p)}
		}
	}()
	return read(data)
}

func main() {
	var inputs []map[string]string
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintf(os.Stderr, "oracle: stdin is not a JSON array of ConfigMap data objects: %v\n", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(inputs))
	for _, data := range inputs {
		results = append(results, readGuarded(data))
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintf(os.Stderr, "oracle: writing stdout: %v\n", err)
		os.Exit(1)
	}
}
