// Package codegen is a stand-in for pulumi-language-dotnet's codegen package: just the C# package
// metadata that pulumi-docker-build writes into its schema's "language" section (SDK generation only).
package codegen

// CSharpPackageInfo is the C# language section of a package schema.
type CSharpPackageInfo struct {
	PackageReferences      map[string]string `json:"packageReferences,omitempty"`
	Namespaces             map[string]string `json:"namespaces,omitempty"`
	Compatibility          string            `json:"compatibility,omitempty"`
	DictionaryConstructors bool              `json:"dictionaryConstructors,omitempty"`
	RespectSchemaVersion   bool              `json:"respectSchemaVersion,omitempty"`
}
