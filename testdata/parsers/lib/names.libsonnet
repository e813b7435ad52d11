// Imported by inputs/app.jsonnet (relative imports resolve against the importing file).
{
  app(name):: 'app-' + name,
}
