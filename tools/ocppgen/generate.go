package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// versions maps the -version flag to the version's name in comments.
var versions = map[string]string{
	"V201": "2.0.1",
	"V21":  "2.1",
}

// model is everything the output file declares.
type model struct {
	pkg, version, versionName string
	actions                   []action
	messages                  []*goType // payloads, in action order: request, response
	objects                   []*goType // shared object types, by name
	enums                     []*goType // by name
}

type action struct {
	Name      string
	Direction string // ChargerToCSMS, CSMSToCharger or Both
	Request   string // Go type names; Response is "" for a SEND message
	Response  string
}

// goType is a generated struct (Fields) or enumeration (Values).
type goType struct {
	Name   string
	Doc    []string // paragraphs
	Fields []field
	Open   bool // schema allows additional properties
	Values []enumValue
}

type field struct {
	Name string // Go
	JSON string
	Type string
	Omit string   // "", "omitempty" or "omitzero"
	Tags []string // ocpp tag items
	Doc  string
}

type enumValue struct {
	Const, Value string
}

// generate reads the schemas in dir and returns the gofmt-formatted Go file
// for package pkg, following the rules in the package documentation.
func generate(dir, pkg, version string) ([]byte, error) {
	versionName, ok := versions[version]
	if !ok {
		return nil, fmt.Errorf("unknown -version %q (want V201 or V21)", version)
	}
	if !isIdent(pkg) {
		return nil, fmt.Errorf("bad package name %q", pkg)
	}
	files, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	m, err := build(files)
	if err != nil {
		return nil, err
	}
	m.pkg, m.version, m.versionName = pkg, version, versionName
	return render(m)
}

// defRef identifies a definition in one file.
type defRef struct {
	file string // schemaFile.Base
	name string // definition name
}

// variant is one structure of a javaType.
type variant struct {
	key  string
	refs []defRef // the definitions with this structure, in file name order
	name string   // Go type name
}

type builder struct {
	files   []*schemaFile
	byBase  map[string]*schemaFile
	keys    map[*node]string
	names   map[defRef]string // Go type name of each definition
	enums   map[string]bool   // Go names of enumeration types
	visited map[*node]bool    // cycle guard for structural keys
}

func build(files []*schemaFile) (*model, error) {
	b := &builder{files: files, byBase: map[string]*schemaFile{}, keys: map[*node]string{},
		names: map[defRef]string{}, enums: map[string]bool{}, visited: map[*node]bool{}}
	for _, f := range files {
		b.byBase[f.Base] = f
	}
	groups, err := b.group()
	if err != nil {
		return nil, err
	}
	m := &model{}
	if err := b.nameTypes(groups); err != nil {
		return nil, err
	}
	for _, g := range sortedKeys(groups) {
		for i, v := range groups[g] {
			t, err := b.defType(v, groups[g], i)
			if err != nil {
				return nil, err
			}
			if len(t.Values) > 0 {
				m.enums = append(m.enums, t)
			} else {
				m.objects = append(m.objects, t)
			}
		}
	}
	if m.actions, m.messages, err = b.payloads(); err != nil {
		return nil, err
	}
	byName := func(a, b *goType) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(m.objects, byName)
	slices.SortFunc(m.enums, byName)
	if err := nameConstants(m.enums); err != nil {
		return nil, err
	}
	return m, checkUnique(m)
}

// group collects the definitions of every file by javaType, split into
// structural variants.
func (b *builder) group() (map[string][]*variant, error) {
	groups := map[string][]*variant{}
	for _, f := range b.files {
		for _, d := range f.Root.Definitions {
			jt := d.Schema.JavaType
			if jt == "" {
				jt = strings.TrimSuffix(d.Name, "Type")
			}
			if !isIdent(jt) {
				return nil, fmt.Errorf("%s: #/definitions/%s: javaType %q is not a Go identifier", f.Base, d.Name, jt)
			}
			key, err := b.key(f, d.Schema)
			if err != nil {
				return nil, err
			}
			vs := groups[jt]
			i := slices.IndexFunc(vs, func(v *variant) bool { return v.key == key })
			if i < 0 {
				vs = append(vs, &variant{key: key})
				i = len(vs) - 1
			}
			vs[i].refs = append(vs[i].refs, defRef{f.Base, d.Name})
			groups[jt] = vs
		}
	}
	// The most used variant first, then by first file: deterministic, and
	// stable when a rarely used variant appears.
	for _, vs := range groups {
		slices.SortStableFunc(vs, func(a, b *variant) int {
			if c := cmp.Compare(len(b.refs), len(a.refs)); c != 0 {
				return c
			}
			return strings.Compare(a.refs[0].file, b.refs[0].file)
		})
	}
	return groups, nil
}

// key is the structure of n with every $ref replaced by the structure it
// points to, so that two definitions are equal only if everything they
// reach is. Descriptions and defaults (documentation) do not count.
func (b *builder) key(f *schemaFile, n *node) (string, error) {
	if k, ok := b.keys[n]; ok {
		return k, nil
	}
	if b.visited[n] {
		return "", fmt.Errorf("%s: recursive definitions are not supported", f.Base)
	}
	b.visited[n] = true
	defer delete(b.visited, n)
	var s strings.Builder
	if n.Ref != "" {
		_, d, err := f.def(n.Ref)
		if err != nil {
			return "", err
		}
		k, err := b.key(f, d)
		if err != nil {
			return "", err
		}
		s.WriteString("ref:" + k)
	} else {
		fmt.Fprintf(&s, "{type:%s java:%s closed:%t format:%s min:%s max:%s", n.Type, n.JavaType, n.Closed, n.Format, n.Minimum, n.Maximum)
		for _, p := range []*int{n.MinItems, n.MaxItems, n.MaxLength} {
			if p != nil {
				fmt.Fprintf(&s, " %d", *p)
			} else {
				s.WriteString(" -")
			}
		}
		fmt.Fprintf(&s, " required:%q enum:%q", sorted(n.Required), sorted(n.Enum))
		props := slices.Clone(n.Properties)
		slices.SortFunc(props, func(a, b property) int { return strings.Compare(a.Name, b.Name) })
		for _, p := range props {
			k, err := b.key(f, p.Schema)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&s, " %q:%s", p.Name, k)
		}
		if n.Items != nil {
			k, err := b.key(f, n.Items)
			if err != nil {
				return "", err
			}
			s.WriteString(" items:" + k)
		}
		s.WriteString("}")
	}
	b.keys[n] = s.String()
	return s.String(), nil
}

// nameTypes gives every definition its Go type name.
func (b *builder) nameTypes(groups map[string][]*variant) error {
	taken := map[string]bool{} // object names and payload names
	for _, f := range b.files {
		taken[payloadName(f)] = true
	}
	isEnum := func(vs []*variant) bool {
		r := vs[0].refs[0]
		return len(b.byBase[r.file].defs[r.name].Enum) > 0
	}
	for jt, vs := range groups {
		for _, v := range vs[1:] {
			r := v.refs[0]
			if isEnum(vs) != (len(b.byBase[r.file].defs[r.name].Enum) > 0) {
				return fmt.Errorf("javaType %s is an enumeration in one of %s and %s and an object in the other", jt, vs[0].refs[0].file, r.file)
			}
		}
		if !isEnum(vs) {
			if taken[jt] {
				return fmt.Errorf("object type %s collides with a payload type", jt)
			}
			taken[jt] = true
		}
	}
	for _, jt := range sortedKeys(groups) {
		vs := groups[jt]
		name := jt
		if isEnum(vs) {
			if short := strings.TrimSuffix(jt, "Enum"); short != "" && !taken[short] {
				name = short
			}
		}
		for i, v := range vs {
			v.name = name
			if i > 0 {
				v.name = v.refs[0].file + name
			}
			for _, r := range v.refs {
				b.names[r] = v.name
			}
			if isEnum(vs) {
				b.enums[v.name] = true
			}
		}
	}
	return nil
}

// defType builds the Go type of variant i of a javaType, from the first
// file that uses it.
func (b *builder) defType(v *variant, all []*variant, i int) (*goType, error) {
	r := v.refs[0]
	f := b.byBase[r.file]
	n := f.defs[r.name]
	t := &goType{Name: v.name}
	t.Doc = append(t.Doc, fmt.Sprintf("%s is the schemas' %s.", v.name, r.name))
	if d := cleanDoc(n.Description); d != "" {
		t.Doc[0] += " " + d
	}
	if n.Default != "" {
		t.Doc = append(t.Doc, fmt.Sprintf("The default is %s.", unquote(n.Default)))
	}
	if len(all) > 1 {
		t.Doc = append(t.Doc, variantNote(v, all, i))
	}
	if len(n.Enum) > 0 {
		for _, val := range n.Enum {
			t.Values = append(t.Values, enumValue{Value: val})
		}
		return t, nil
	}
	if n.Type != "object" {
		return nil, fmt.Errorf("%s: #/definitions/%s: a definition must be an object or a string enumeration", f.Base, r.name)
	}
	var err error
	t.Open = !n.Closed
	t.Fields, err = b.fields(f, n, "#/definitions/"+r.name)
	return t, err
}

// variantNote documents a javaType the files disagree on.
func variantNote(v *variant, all []*variant, i int) string {
	var others []string
	for j, o := range all {
		if j != i {
			others = append(others, o.name)
		}
	}
	var files []string
	for _, r := range v.refs {
		files = append(files, r.file+".json")
	}
	return fmt.Sprintf("The schemas define %s in %d different ways (see also %s); this one is used by %s.",
		v.refs[0].name, len(all), strings.Join(others, ", "), strings.Join(files, ", "))
}

// payloads builds the payload structs and the action list.
func (b *builder) payloads() ([]action, []*goType, error) {
	type pair struct{ req, resp *schemaFile }
	byAction := map[string]*pair{}
	for _, f := range b.files {
		p := byAction[f.Action]
		if p == nil {
			p = &pair{}
			byAction[f.Action] = p
		}
		slot := &p.req
		if f.Response {
			slot = &p.resp
		}
		if *slot != nil {
			return nil, nil, fmt.Errorf("%s and %s are both the %s payload", (*slot).Base, f.Base, f.Action)
		}
		*slot = f
	}
	var actions []action
	var messages []*goType
	for _, name := range sortedKeys(byAction) {
		p := byAction[name]
		if p.req == nil {
			return nil, nil, fmt.Errorf("%s has a response schema but no request schema", name)
		}
		dir, ok := directions[name]
		if !ok {
			return nil, nil, fmt.Errorf("action %s: who sends it is unknown: add it to the directions table", name)
		}
		a := action{Name: name, Direction: dir}
		for _, f := range []*schemaFile{p.req, p.resp} {
			if f == nil {
				continue
			}
			t, err := b.payloadType(f, p.resp == nil)
			if err != nil {
				return nil, nil, err
			}
			messages = append(messages, t)
			if f.Response {
				a.Response = t.Name
			} else {
				a.Request = t.Name
			}
		}
		actions = append(actions, a)
	}
	// Charger-initiated (and two-way) actions first, as in package v16.
	toCharger := func(a action) int {
		if a.Direction == "CSMSToCharger" {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(actions, func(x, y action) int { return cmp.Compare(toCharger(x), toCharger(y)) })
	return actions, messages, nil
}

func payloadName(f *schemaFile) string {
	if f.Response {
		return f.Action + "Response"
	}
	return f.Action + "Request"
}

func (b *builder) payloadType(f *schemaFile, send bool) (*goType, error) {
	kind := "request"
	if f.Response {
		kind = "response"
	}
	t := &goType{Name: payloadName(f), Open: !f.Root.Closed}
	doc := fmt.Sprintf("%s is the %s %s payload (%s.json", t.Name, f.Action, kind, f.Base)
	if send {
		doc += ", sent with SEND: it has no response"
	}
	doc += ")."
	if d := cleanDoc(f.Root.Description); d != "" {
		doc += " " + d
	}
	t.Doc = []string{doc}
	var err error
	t.Fields, err = b.fields(f, f.Root, f.Base)
	return t, err
}

// fields maps an object schema's properties.
func (b *builder) fields(f *schemaFile, n *node, where string) ([]field, error) {
	required := map[string]bool{}
	for _, r := range n.Required {
		if !slices.ContainsFunc(n.Properties, func(p property) bool { return p.Name == r }) {
			return nil, fmt.Errorf("%s: %s: required property %q is not defined", f.Base, where, r)
		}
		required[r] = true
	}
	var out []field
	seen := map[string]string{}
	for _, p := range n.Properties {
		at := where + "/" + p.Name
		fd, err := b.field(f, p.Name, p.Schema, required[p.Name], at)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[fd.Name]; ok {
			return nil, fmt.Errorf("%s: properties %q and %q are both field %s", at, other, p.Name, fd.Name)
		}
		seen[fd.Name] = p.Name
		out = append(out, fd)
	}
	if len(out) > 64 {
		return nil, fmt.Errorf("%s: %s has more than 64 properties (package payload's limit)", f.Base, where)
	}
	return out, nil
}

func (b *builder) field(f *schemaFile, name string, n *node, required bool, at string) (field, error) {
	fd := field{Name: fieldName(name), JSON: name}
	if !isIdent(fd.Name) {
		return fd, fmt.Errorf("%s: %s: property name is not a Go identifier", f.Base, at)
	}
	if required {
		fd.Tags = append(fd.Tags, "required")
	}
	if n.Ref == "" {
		fd.Doc = cleanDoc(n.Description)
		if n.Default != "" && !strings.Contains(strings.ToLower(fd.Doc), "default") {
			fd.Doc = strings.TrimSpace(fd.Doc + " Default: " + unquote(n.Default) + ".")
		}
	}
	elem, byPointer, err := b.elemType(f, n, at)
	if err != nil {
		return fd, err
	}
	c := n // the node carrying the value constraints
	if n.Type == "array" {
		fd.Type = "[]" + elem
		fd.Tags = appendCount(fd.Tags, "minItems", n.MinItems)
		fd.Tags = appendCount(fd.Tags, "maxItems", n.MaxItems)
		c = n.Items
	} else {
		fd.Type = elem
		if !required && byPointer {
			fd.Type = "*" + elem
		}
	}
	fd.Tags = appendCount(fd.Tags, "maxLength", c.MaxLength)
	if c.Minimum != "" {
		fd.Tags = append(fd.Tags, "minimum="+c.Minimum)
	}
	if c.Maximum != "" {
		fd.Tags = append(fd.Tags, "maximum="+c.Maximum)
	}
	if !required {
		fd.Omit = "omitempty"
		if fd.Type == "DateTime" {
			fd.Omit = "omitzero"
		}
	}
	return fd, nil
}

// elemType is the Go type of a value of schema n (for an array: of its
// items). byPointer reports the types an optional field holds through a
// pointer: numbers, booleans and objects, whose zero value omitempty cannot
// tell from absent.
func (b *builder) elemType(f *schemaFile, n *node, at string) (typ string, byPointer bool, err error) {
	if n.Ref != "" {
		name, _, err := f.def(n.Ref)
		if err != nil {
			return "", false, err
		}
		goName := b.names[defRef{f.Base, name}]
		return goName, !b.enums[goName], nil
	}
	switch n.Type {
	case "":
		return "json.RawMessage", false, nil
	case "string":
		if len(n.Enum) > 0 {
			return "", false, fmt.Errorf("%s: %s: an enumeration must be a definition", f.Base, at)
		}
		if n.Format == "date-time" {
			return "DateTime", false, nil
		}
		return "string", false, nil
	case "integer":
		return "int", true, nil
	case "number":
		return "float64", true, nil
	case "boolean":
		return "bool", true, nil
	case "array":
		if n.Items.Type == "array" {
			return "", false, fmt.Errorf("%s: %s: arrays of arrays are not supported", f.Base, at)
		}
		t, _, err := b.elemType(f, n.Items, at+"/items")
		return t, false, err
	}
	return "", false, fmt.Errorf("%s: %s: inline object schemas are not supported; use a definition", f.Base, at)
}

func appendCount(tags []string, key string, n *int) []string {
	if n == nil {
		return tags
	}
	return append(tags, fmt.Sprintf("%s=%d", key, *n))
}

// nameConstants names every enumeration value (see generate).
func nameConstants(enums []*goType) error {
	full := map[*goType]bool{}
	for range 2 {
		owners := map[string][]*goType{}
		for _, t := range enums {
			prefix := t.Name
			if !full[t] {
				prefix = shortPrefix(t.Name)
			}
			seen := map[string]string{}
			for i := range t.Values {
				c := prefix + valueName(t.Values[i].Value)
				if other, dup := seen[c]; dup {
					return fmt.Errorf("enumeration %s: values %q and %q are both %s", t.Name, other, t.Values[i].Value, c)
				}
				seen[c] = t.Values[i].Value
				t.Values[i].Const = c
				owners[c] = append(owners[c], t)
			}
		}
		clash := false
		for _, ts := range owners {
			if len(ts) > 1 {
				for _, t := range ts {
					clash = clash || !full[t]
					full[t] = true
				}
			}
		}
		if !clash {
			return nil
		}
	}
	return fmt.Errorf("enumeration constants collide even with full type-name prefixes")
}

// shortPrefix drops "Enum" and a trailing "Status" from an enumeration's
// name: AuthorizationStatus → Authorization.
func shortPrefix(name string) string {
	name = strings.TrimSuffix(name, "Enum")
	if s := strings.TrimSuffix(name, "Status"); s != "" {
		return s
	}
	return name
}

// reserved are the identifiers the registry declares.
var reserved = []string{"DateTime", "Direction", "ChargerToCSMS", "CSMSToCharger", "Both", "Action", "Actions",
	"Lookup", "NewRequest", "NewResponse", "DecodeRequest", "DecodeResponse", "actions"}

// checkUnique reports any two declarations with the same name.
func checkUnique(m *model) error {
	seen := map[string]string{}
	add := func(name, what string) error {
		if other, ok := seen[name]; ok {
			return fmt.Errorf("%s and %s are both named %s", other, what, name)
		}
		seen[name] = what
		return nil
	}
	for _, r := range reserved {
		if err := add(r, "the registry's "+r); err != nil {
			return err
		}
	}
	for _, list := range [][]*goType{m.messages, m.objects, m.enums} {
		for _, t := range list {
			if err := add(t.Name, "type "+t.Name); err != nil {
				return err
			}
			for _, v := range t.Values {
				if err := add(v.Const, fmt.Sprintf("%s value %q", t.Name, v.Value)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
