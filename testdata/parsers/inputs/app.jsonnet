local names = import '../lib/names.libsonnet';

{
  name: names.app('web'),
  replicas: std.length(['only-one']),
}
