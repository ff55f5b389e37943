FROM scratch AS 9<script>
